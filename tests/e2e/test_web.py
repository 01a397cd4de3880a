"""The web tier for real: nginx + certbot against Let's Encrypt's test CA (pebble) in the guest.

Session host `mon2`: the lab stack with `web` on (nginx), its ACME directory pointing at a
pebble server inside the guest (Debian's `pebble` package, HTTP-01 validation against the
guest's own nginx), RPC restricted to the lab host's veth address *and* basic auth, and a
fake JSON-RPC node behind it. The test client verifies the served certificate against
pebble's issuing root, fetched from pebble's management endpoint.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import ssl
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infrakit.lab.host import LabHost
from tests.e2e.conftest import OUTSIDER, Lab, etc_digest, lab_session, lab_stack, side_address
from tests.e2e.lab_fakes import listening, start_fake, wait_for

pytestmark = pytest.mark.lab

HOST_NAME = "mon2"
DOMAIN = "mon2.infrakit.test"
PEBBLE_DIR = "https://127.0.0.1:14000/dir"
RPC_USER, RPC_PASSWORD = "rpc", "lab-rpc-password-31b7"
PEBBLE_ENV = ("PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")


def bcrypt_hash(password: str) -> str:
    """bcrypt through the stdlib's crypt (libxcrypt); deprecated since 3.11, fine for a test hash."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # noqa: PLC0415

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))  # noqa: S324 - bcrypt, cost 4


def pebble_api_cert(out: Path) -> None:
    """A throwaway CA and a localhost certificate for pebble's own HTTPS API."""
    def ssl_cmd(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=out, check=True, capture_output=True, timeout=60)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    ssl_cmd("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=lab pebble API CA")
    ssl_cmd("req", *ec, "-keyout", "key.pem", "-out", "cert.csr", "-subj", "/CN=localhost")
    (out / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ssl_cmd("x509", "-req", "-in", "cert.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "cert.pem", "-days", "2", "-extfile", "ext.cnf")
    (out / "config.json").write_text(json.dumps({"pebble": {
        "listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
        "certificate": "/root/pebble/cert.pem", "privateKey": "/root/pebble/key.pem",
        "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": False,
    }}))


@pytest.fixture(scope="module")
def pebble_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pebble")
    pebble_api_cert(out)
    return out


def start_pebble(files: Path) -> Any:
    def prepare(lab: Lab) -> None:
        lab.guest("sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pebble",
                  timeout=300)
        target = lab.host.rootfs / "root" / "pebble"
        target.mkdir(mode=0o700, exist_ok=True)
        for name in ("cert.pem", "key.pem", "ca.pem", "config.json"):
            (target / name).write_bytes((files / name).read_bytes())
        with (lab.host.rootfs / "etc" / "hosts").open("a") as hosts:
            hosts.write(f"127.0.0.1 {DOMAIN}\n")
        lab.guest("systemd-run", "--unit=lab-pebble", *(f"--setenv={e}" for e in PEBBLE_ENV), "/usr/bin/pebble",
                  "-config", "/root/pebble/config.json")
        wait_for("pebble", lambda: listening(lab, 14000, 15000), 30)
        start_fake(lab, "lab-fake-node", "node", "8545", port=8545)

    return prepare


def make_stack(ca_pem: str) -> Any:
    def make(host: LabHost) -> Any:
        return lab_stack(host, secure=["webBasicAuthHash"], web={
            "enabled": True,
            "server": "nginx",
            "domain": DOMAIN,
            "acmeEmail": "ops@example.org",
            "acmeDirectory": PEBBLE_DIR,
            "acmeCaRoot": ca_pem,
            "rpcAllowCidrs": [f"{host.host_side_address}/32"],
            "rpcBasicAuthUser": RPC_USER,
            "rateLimit": 5,
            "rateBurst": 10,
        })

    return make


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, pebble_files: Path) -> Iterator[Lab]:
    secrets = {"webBasicAuthHash": bcrypt_hash(RPC_PASSWORD)}
    with lab_session(HOST_NAME, tmp_path_factory, make_stack((pebble_files / "ca.pem").read_text()), secrets=secrets,
                     prepare=start_pebble(pebble_files)) as lab:
        yield lab


@pytest.fixture(scope="module")
def issuing_root(web: Lab) -> str:
    """Pebble's root for the certificates it issues (it makes a new one at every start)."""
    return web.guest("curl", "-sf", "--cacert", "/root/pebble/ca.pem", "https://127.0.0.1:15000/roots/0").stdout


class _Https(http.client.HTTPSConnection):
    """HTTPS to an address, with SNI and hostname verification for DOMAIN."""

    def __init__(self, address: str, context: ssl.SSLContext, source: str | None = None) -> None:
        super().__init__(DOMAIN, 443, context=context, timeout=10,
                         source_address=(source, 0) if source else None)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, 443), self.timeout, self.source_address)
        self.sock = self._context.wrap_socket(sock, server_hostname=DOMAIN)  # type: ignore[attr-defined]


def request(lab: Lab, root: str, method: str, path: str, body: str | None = None, auth: bool = True,
            source: str | None = None) -> tuple[int, dict[str, str], bytes]:
    context = ssl.create_default_context(cadata=root)
    conn = _Https(lab.host.address, context, source)
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{RPC_USER}:{RPC_PASSWORD}".encode()).decode()
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


RPC = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "eth_blockNumber", "params": []})


def test_firewall_opens_80_and_443(web: Lab) -> None:
    status = web.guest("ufw", "status").stdout
    for port in ("80/tcp", "443/tcp"):
        assert re.search(rf"^{port}\s+ALLOW\s+Anywhere", status, re.M), status


def test_certificate_is_issued_by_the_acme_ca_and_served(web: Lab, issuing_root: str) -> None:
    context = ssl.create_default_context(cadata=issuing_root)
    with socket.create_connection((web.host.address, 443), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=DOMAIN) as tls:
        cert = tls.getpeercert()
    assert ("DNS", DOMAIN) in cert["subjectAltName"]
    issuer = dict(pair[0] for pair in cert["issuer"])
    assert "Pebble" in issuer["commonName"], issuer
    live = web.guest("readlink", "-f", f"/etc/infrakit/tls/{DOMAIN}/fullchain.pem").stdout.strip()
    assert live.startswith(f"/etc/letsencrypt/archive/{DOMAIN}/"), live


def test_http_only_redirects_to_https(web: Lab) -> None:
    conn = http.client.HTTPConnection(web.host.address, 80, timeout=10)
    try:
        conn.request("GET", "/rpc?x=1", headers={"Host": "evil.example"})
        response = conn.getresponse()
    finally:
        conn.close()
    assert response.status == 301
    assert response.getheader("Location") == f"https://{DOMAIN}/rpc?x=1", "redirect to our name, not the Host header"


def test_rpc_is_proxied_over_https_with_safe_headers(web: Lab, issuing_root: str) -> None:
    status, headers, body = request(web, issuing_root, "POST", "/rpc", RPC)
    assert status == 200, body
    assert json.loads(body) == {"jsonrpc": "2.0", "id": 7, "result": hex(1000)}
    assert headers["strict-transport-security"].startswith("max-age=")
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert headers["server"] == "nginx", "no version in the Server header"


def test_rpc_needs_basic_auth(web: Lab, issuing_root: str) -> None:
    status, headers, _ = request(web, issuing_root, "POST", "/rpc", RPC, auth=False)
    assert status == 401 and headers["www-authenticate"].startswith("Basic")


def test_client_outside_the_allowlist_is_refused(web: Lab, issuing_root: str) -> None:
    """Right password, wrong source address: the allowlist still refuses."""
    status, _, _ = request(web, issuing_root, "POST", "/rpc", RPC, source=side_address(web.host, OUTSIDER))
    assert status == 403


def test_status_page_through_the_proxy(web: Lab, issuing_root: str) -> None:
    status, _, body = request(web, issuing_root, "GET", "/status")
    assert status == 200
    doc = json.loads(body)
    by_name = {c["name"]: c for c in doc["checks"]}
    assert by_name["web_proxy"]["status"] == "OK"
    assert by_name["tls_certificate"]["status"] == "OK", by_name["tls_certificate"]
    assert request(web, issuing_root, "GET", "/metrics")[0] == 404, "only /status is fronted"


def test_rate_limit_answers_429(web: Lab, issuing_root: str) -> None:
    codes = [request(web, issuing_root, "POST", "/rpc", RPC)[0] for _ in range(25)]
    assert set(codes) <= {200, 429} and codes.count(429) >= 5, codes


def test_renewal_dry_run_against_the_acme_ca(web: Lab) -> None:
    out = web.guest("env", "REQUESTS_CA_BUNDLE=/etc/infrakit/tls/acme-ca.pem", "certbot", "renew", "--dry-run",
                    "--no-random-sleep-on-renew", "--server", PEBBLE_DIR, check=False, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "all simulated renewals succeeded" in out.stdout + out.stderr
    assert web.guest("systemctl", "is-enabled", "certbot.timer").stdout.strip() == "enabled"
    dropin = web.guest("systemctl", "show", "-p", "Environment", "--value", "certbot.service").stdout
    assert "REQUESTS_CA_BUNDLE=/etc/infrakit/tls/acme-ca.pem" in dropin, "scheduled renewals trust the ACME CA"


def test_basic_auth_hash_is_private(web: Lab) -> None:
    assert web.guest("stat", "-c", "%a %U:%G", "/etc/nginx/infrakit-rpc.htpasswd").stdout.split() == [
        "640", "root:www-data"]
    secret = web.secrets["webBasicAuthHash"]
    journal = web.guest("journalctl", "--no-pager", "-o", "cat", timeout=60).stdout
    assert secret not in journal and secret.split("$")[-1] not in journal


def test_nginx_sandbox_score(web: Lab) -> None:
    out = web.guest("systemd-analyze", "security", "--no-pager", "nginx.service", check=False).stdout
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)[1])  # type: ignore[index]
    print(f"systemd-analyze security nginx.service: {score}")
    assert score <= 6.0


def test_second_apply_changes_nothing(web: Lab) -> None:
    before = etc_digest(web)
    report = web.apply("second")
    after = etc_digest(web)
    assert report.ok, "\n".join(web.logs["second"][-30:])
    assert [(s.name, s.changed) for s in report.steps] == [(s.name, False) for s in report.steps]
    assert sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)) == []
