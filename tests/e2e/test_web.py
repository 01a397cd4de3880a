"""The web tier for real, against Let's Encrypt's test CA (pebble) running in the guest.

Two hosts, one after the other: `mon2` with nginx + certbot and `mon3` with caddy and its own
ACME client. Each is the lab stack with `web` on, the ACME directory pointing at pebble
inside the guest (Debian's `pebble` package; it validates against the guest's own proxy),
RPC restricted to the lab host's veth address *and* basic auth, and a fake JSON-RPC node
behind it. The test client verifies the served certificate against pebble's issuing root,
fetched from pebble's management endpoint.
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.client
import json
import re
import select
import socket
import ssl
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infrakit_lab.host import LabHost
from tests.e2e.conftest import OUTSIDER, Lab, etc_digest, lab_session, lab_stack, side_address
from tests.e2e.lab_fakes import listening, start_fake, wait_for
from tests.lab_names import test_host

pytestmark = pytest.mark.lab

HOSTS = {"nginx": test_host("ngx"), "caddy": test_host("cdy")}
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


def domain_of(lab: Lab) -> str:
    return f"{lab.host.name}.infrakit.test"


def start_pebble(files: Path) -> Any:
    def prepare(lab: Lab) -> None:
        lab.guest("sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pebble",
                  timeout=300)
        target = lab.host.rootfs / "root" / "pebble"
        target.mkdir(mode=0o700, exist_ok=True)
        for name in ("cert.pem", "key.pem", "ca.pem", "config.json"):
            (target / name).write_bytes((files / name).read_bytes())
        with (lab.host.rootfs / "etc" / "hosts").open("a") as hosts:
            hosts.write(f"127.0.0.1 {domain_of(lab)}\n")
        lab.guest("systemd-run", "--unit=lab-pebble", *(f"--setenv={e}" for e in PEBBLE_ENV), "/usr/bin/pebble",
                  "-config", "/root/pebble/config.json")
        wait_for("pebble", lambda: listening(lab, 14000, 15000), 30)
        start_fake(lab, "lab-fake-node", "node", "8545", port=8545)

    return prepare


def make_stack(server: str, ca_pem: str) -> Any:
    def make(host: LabHost) -> Any:
        return lab_stack(host, secure=["webBasicAuthHash"], web={
            "enabled": True,
            "server": server,
            "domain": f"{host.name}.infrakit.test",
            "acmeEmail": "ops@example.org",
            "acmeDirectory": PEBBLE_DIR,
            "acmeCaRoot": ca_pem,
            "rpcAllowCidrs": [f"{host.host_side_address}/32"],
            "rpcBasicAuthUser": RPC_USER,
            "rateLimit": 5,
            "rateBurst": 10,
        })

    return make


@pytest.fixture(scope="module", params=list(HOSTS))
def web(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        pebble_files: Path) -> Iterator[Lab]:
    server = request.param
    secrets = {"webBasicAuthHash": bcrypt_hash(RPC_PASSWORD)}
    with lab_session(HOSTS[server], tmp_path_factory, make_stack(server, (pebble_files / "ca.pem").read_text()),
                     secrets=secrets, prepare=start_pebble(pebble_files)) as lab:
        yield lab


def server_of(lab: Lab) -> str:
    return lab.stack.config.web.server


@pytest.fixture(scope="module")
def issuing_root(web: Lab) -> str:
    """Pebble's root for the certificates it issues (it makes a new one at every start)."""
    return web.guest("curl", "-sf", "--cacert", "/root/pebble/ca.pem", "https://127.0.0.1:15000/roots/0").stdout


class _Https(http.client.HTTPSConnection):
    """HTTPS to an address, with SNI and hostname verification for `domain`."""

    def __init__(self, address: str, domain: str, context: ssl.SSLContext, source: str | None = None) -> None:
        super().__init__(domain, 443, context=context, timeout=10,
                         source_address=(source, 0) if source else None)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, 443), self.timeout, self.source_address)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def request(lab: Lab, root: str, method: str, path: str, body: str | None = None, auth: bool = True,
            source: str | None = None) -> tuple[int, dict[str, str], bytes]:
    context = ssl.create_default_context(cadata=root)
    conn = _Https(lab.host.address, domain_of(lab), context, source)
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
    domain = domain_of(web)
    context = ssl.create_default_context(cadata=issuing_root)
    with socket.create_connection((web.host.address, 443), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=domain) as tls:
        cert = tls.getpeercert()
    assert ("DNS", domain) in cert["subjectAltName"]
    issuer = dict(pair[0] for pair in cert["issuer"])
    assert "Pebble" in issuer["commonName"], issuer
    if server_of(web) == "nginx":
        live = web.guest("readlink", "-f", f"/etc/infrakit/tls/{domain}/fullchain.pem").stdout.strip()
        assert live.startswith(f"/etc/letsencrypt/archive/{domain}/"), live


def http_get(lab: Lab, path: str, host: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(lab.host.address, 80, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        response.read()
        return response
    finally:
        conn.close()


def test_http_only_redirects_to_https(web: Lab) -> None:
    domain = domain_of(web)
    response = http_get(web, "/rpc?x=1", domain)
    assert response.status in {301, 308}
    assert response.getheader("Location") == f"https://{domain}/rpc?x=1"
    foreign = http_get(web, "/rpc", "evil.example")
    assert foreign.getheader("Location") in {None, f"https://{domain}/rpc"}, "never redirect to a foreign Host"


def test_rpc_is_proxied_over_https_with_safe_headers(web: Lab, issuing_root: str) -> None:
    status, headers, body = request(web, issuing_root, "POST", "/rpc", RPC)
    assert status == 200, body
    assert json.loads(body) == {"jsonrpc": "2.0", "id": 7, "result": hex(1000)}
    assert headers["strict-transport-security"].startswith("max-age=")
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert headers.get("server", "nginx") == "nginx", "no version in the Server header"


def test_rpc_needs_basic_auth(web: Lab, issuing_root: str) -> None:
    status, headers, _ = request(web, issuing_root, "POST", "/rpc", RPC, auth=False)
    assert status == 401 and headers["www-authenticate"].startswith("Basic")


def test_client_outside_the_allowlist_is_refused(web: Lab, issuing_root: str) -> None:
    """Right password, wrong source address: the allowlist still refuses."""
    status, _, _ = request(web, issuing_root, "POST", "/rpc", RPC, source=side_address(web.host, OUTSIDER))
    assert status == 403


def test_status_page_through_the_proxy(web: Lab, issuing_root: str) -> None:
    # The status server answers 503 {"status": "starting"} until its first round of checks is
    # done; the apply ends right after starting it, so a fast run can get here first.
    status, _, body = wait_for("the status server's first round of checks",
                               lambda: (r := request(web, issuing_root, "GET", "/status"))[0] != 503 and r, 30)
    assert status == 200
    doc = json.loads(body)
    by_name = {c["name"]: c for c in doc["checks"]}
    assert by_name["web_proxy"]["status"] == "OK"
    assert by_name["tls_certificate"]["status"] == "OK", by_name["tls_certificate"]
    assert request(web, issuing_root, "GET", "/metrics")[0] == 404, "only /status is fronted"


def connects(address: str, timeout: float = 1.0) -> bool:
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((address, 443)) == 0


def burst_connects(address: str, count: int, wait: float = 1.0) -> int:
    """Start `count` connections at once; how many are established within `wait` seconds
    (a dropped SYN is only retried after a second)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.setblocking(False)
            sock.connect_ex((address, 443))
        time.sleep(wait)
        _, writable, _ = select.select([], socks, [], 0)
        return sum(1 for sock in writable if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
    finally:
        for sock in socks:
            sock.close()


def test_rate_limit_per_client(web: Lab, issuing_root: str) -> None:
    """nginx answers 429 beyond rateLimit requests/s; with caddy (no rate-limit module in
    Debian's build) an nftables meter drops new connections beyond rateLimit/s."""
    if server_of(web) == "nginx":
        with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
            codes = list(pool.map(lambda _: request(web, issuing_root, "POST", "/rpc", RPC)[0], range(30)))
        assert set(codes) <= {200, 429} and codes.count(429) >= 10, codes
    else:
        established = burst_connects(web.host.address, 40)
        assert established <= 30, f"{established} of 40 simultaneous new connections got through"
        assert "infrakit_web" in web.guest("nft", "list", "tables").stdout
    wait_for("the client's budget to refill", lambda: connects(web.host.address), 15)
    time.sleep(3)


def test_renewal_is_set_up_against_the_acme_ca(web: Lab) -> None:
    """nginx: certbot's renewal dry-run succeeds against the CA. caddy renews by itself (no
    dry-run exists): its certificate must sit in caddy's managed storage, filed under the
    configured ACME directory's issuer, which is what caddy's renewal loop works from."""
    if server_of(web) == "caddy":
        found = web.guest("find", "/var/lib/caddy", "-name", "*.crt", "-path", "*certificates*").stdout.split()
        assert found, "caddy holds no managed certificate"
        assert any("127.0.0.1-14000-dir" in path for path in found), f"not filed under the configured CA: {found}"
        return
    out = web.guest("env", "REQUESTS_CA_BUNDLE=/etc/infrakit/tls/acme-ca.pem", "certbot", "renew", "--dry-run",
                    "--no-random-sleep-on-renew", "--server", PEBBLE_DIR, check=False, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "all simulated renewals succeeded" in out.stdout + out.stderr
    assert web.guest("systemctl", "is-enabled", "certbot.timer").stdout.strip() == "enabled"
    dropin = web.guest("systemctl", "show", "-p", "Environment", "--value", "certbot.service").stdout
    assert "REQUESTS_CA_BUNDLE=/etc/infrakit/tls/acme-ca.pem" in dropin, "scheduled renewals trust the ACME CA"


def test_basic_auth_hash_is_private(web: Lab) -> None:
    path, owner = (("/etc/nginx/infrakit-rpc.htpasswd", "root:www-data") if server_of(web) == "nginx"
                   else ("/etc/caddy/infrakit-auth.caddy", "root:caddy"))
    assert web.guest("stat", "-c", "%a %U:%G", path).stdout.split() == ["640", owner]
    secret = web.secrets["webBasicAuthHash"]
    journal = web.guest("journalctl", "--no-pager", "-o", "cat", timeout=60).stdout
    assert secret not in journal and secret.split("$")[-1] not in journal


def test_proxy_sandbox_score(web: Lab) -> None:
    unit = f"{server_of(web)}.service"
    out = web.guest("systemd-analyze", "security", "--no-pager", unit, check=False).stdout
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)[1])  # type: ignore[index]
    print(f"systemd-analyze security {unit}: {score}")
    assert score <= 6.0


def test_second_apply_changes_nothing(web: Lab) -> None:
    before = etc_digest(web)
    report = web.apply("second")
    after = etc_digest(web)
    assert report.ok, "\n".join(web.logs["second"][-30:])
    assert [(s.name, s.changed) for s in report.steps] == [(s.name, False) for s in report.steps]
    assert sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)) == []
