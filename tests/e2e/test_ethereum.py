"""The Ethereum validator plan on a real Debian 12 lab host, with TEST STAND-IN clients.

Real client releases cannot be downloaded on the build machine, so the test builds release
tarballs of a small stand-in program (tests/adapters/ethereum/standin.py) under the real
names and layouts (`geth-linux-amd64-<v>/geth`, `lighthouse`, `mev-boost`), serves them from
a local mirror on the lab's host-side address, locks them with the real `infrakit lock`
code into a TEST lock file, and applies the real validator plan (geth + lighthouse +
MEV-boost). What is proven on the host: artifacts verified and installed side by side,
units enabled with the rendered flags and running under their own users, health checks
answering, JWT and data-dir permissions, the validator kept stopped until keys are imported
and the stack enables it, a version bump re-running only its steps and restarting only its
service, and a corrupted or unlocked artifact refused while the running version keeps running.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import json
import os
import shlex
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapters.registry import REGISTRY
from infrakit.apply.executor import ApplyReport, apply_plan
from infrakit.apply.ssh import Target
from infrakit.artifacts.cli import cmd_lock
from infrakit.config import RawConfig, Stack, load, read_stack_file
from infrakit.plan import HostPlan, build_plan
from infrakit.plan.model import plan_steps
from infrakit_lab.host import LabHost, ensure_host_packages
from tests.e2e.conftest import ADMIN_KEY, require_root
from tests.lab_names import test_host

pytestmark = pytest.mark.lab

HOST_NAME = os.environ.get("INFRAKIT_E2E_ETH_HOST") or test_host("eth")  # another name: concurrent runs on one machine
STANDIN = Path(__file__).resolve().parents[1] / "adapters" / "ethereum" / "standin.py"
FEE_RECIPIENT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
PUBKEY = "a" * 96
SECURITY: dict[str, str] = {}


def _tar(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755, 0
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def _program(version: str) -> bytes:
    return STANDIN.read_text().replace("@VERSION@", version).encode()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Mirror:
    """Release files under upstream/ (what `infrakit lock` hashes) and the same files under
    mirror/<name>/<version>/ (what the host downloads through chainSettings.artifacts.baseUrl)."""

    root: Path
    host: str
    port: int = 0
    server: http.server.ThreadingHTTPServer | None = None

    def add(self, name: str, version: str, filename: str, data: bytes, mirror_data: bytes | None = None) -> None:
        (self.root / "upstream").mkdir(parents=True, exist_ok=True)
        (self.root / "upstream" / filename).write_bytes(data)
        target = self.root / "mirror" / name / version
        target.mkdir(parents=True, exist_ok=True)
        (target / filename).write_bytes(data if mirror_data is None else mirror_data)

    def start(self) -> None:
        handler = functools.partial(Quiet, directory=str(self.root))
        self.server = http.server.ThreadingHTTPServer((self.host, 0), handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def build_release_files(mirror: Mirror) -> None:
    for version in ("1.0.0", "1.0.1", "1.0.2"):
        good = _tar({f"geth-linux-amd64-{version}/geth": _program(version)})
        corrupted = bytearray(good)
        corrupted[len(corrupted) // 2] ^= 0xFF
        # 1.0.2 is locked from the good file but the mirror serves a corrupted copy.
        mirror.add("geth", version, f"geth-linux-amd64-{version}.tar.gz", good,
                   bytes(corrupted) if version == "1.0.2" else None)
    mirror.add("lighthouse", "1.0.0", "lighthouse-v1.0.0-x86_64-unknown-linux-gnu.tar.gz",
               _tar({"lighthouse": _program("1.0.0")}))
    mirror.add("mev-boost", "1.0.0", "mev-boost_1.0.0_linux_amd64.tar.gz", _tar({"mev-boost": _program("1.0.0")}))


def lock_test_artifacts(mirror: Mirror, workdir: Path) -> Path:
    """Run the real `infrakit lock` against a test manifest whose upstream is the local server."""
    up = f"{mirror.url}/upstream"
    manifest = workdir / "versions.toml"
    manifest.write_text(
        "# TEST manifest: stand-in release files served by the lab test\n"
        f'[artifacts.geth]\nversion = "1.0.0"\nurl = "{up}/geth-linux-amd64-{{version}}.tar.gz"\n'
        'kind = "tar.gz"\nstrip = 1\nbinaries = ["geth"]\nrollback = "any"  # the stand-in keeps no database\n'
        f'[artifacts.lighthouse]\nversion = "1.0.0"\n'
        f'url = "{up}/lighthouse-v{{version}}-x86_64-unknown-linux-gnu.tar.gz"\n'
        'binaries = ["lighthouse"]\n'
        f'[artifacts.mev-boost]\nversion = "1.0.0"\nurl = "{up}/mev-boost_{{version}}_linux_amd64.tar.gz"\n'
        'binaries = ["mev-boost"]\n')
    lock = workdir / "artifacts.lock.toml"
    args = argparse.Namespace(artifacts=["geth@1.0.0", "geth@1.0.1", "geth@1.0.2", "lighthouse", "mev-boost"],
                              manifest=str(manifest), lock=str(lock), check=False)
    assert cmd_lock(args) == 0, "infrakit lock of the test artifacts failed"
    return lock


@dataclass
class EthLab:
    host: LabHost
    mirror: Mirror
    lock: Path
    known_hosts: Path
    reports: dict[str, ApplyReport] = field(default_factory=dict)
    logs: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def admin(self) -> Target:
        return Target(self.host.address, "ops", 22, ADMIN_KEY, self.known_hosts)

    def stack(self, geth: str = "1.0.0", enabled: bool = False, builders: list[str] | None = None) -> Stack:
        values = dict(read_stack_file("lab").values)
        values.update({
            "chain": "ethereum", "role": "validator", "network": "hoodi",
            "host": {"target": "existing", "address": self.host.address},
            "access": {**values["access"], "adminCidrs": [f"{self.host.host_side_address}/32"]},
            "chainSettings": {
                "execution": {"client": "geth"},
                "consensus": {"client": "lighthouse"},
                "validator": {"enabled": enabled, "feeRecipient": FEE_RECIPIENT, "graffiti": "infrakit lab"},
                "mevBoost": {"enabled": True, "minBid": 0.01},
                "artifacts": {"baseUrl": f"{self.mirror.url}/mirror", "lockFile": str(self.lock)},
                "versions": {"geth": geth, "lighthouse": "1.0.0", "mev-boost": "1.0.0"},
                **({"builders": {"urls": builders, "minBidGwei": 5}} if builders else {}),
            },
        })
        return load(RawConfig("eth-lab", values), REGISTRY)

    def apply(self, label: str, plan: HostPlan, **kwargs: Any) -> ApplyReport:
        lines: list[str] = []
        start = time.monotonic()
        report = apply_plan(plan, kwargs.pop("target", self.admin), {}, say=lines.append, **kwargs)
        self.seconds[label] = time.monotonic() - start
        self.reports[label], self.logs[label] = report, lines
        return report

    def run(self, command: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """A shell command inside the guest as root, without SSH (root login is hardened away)."""
        pid = self.host.guest_init_pid
        assert pid, f"lab host {self.host.name} is not running"
        result = subprocess.run(["nsenter", "--target", str(pid), "--mount", "--uts", "--ipc", "--net", "--pid",
                                 "--", "sh", "-c", command], capture_output=True, text=True, timeout=120,
                                check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"guest: {command!r} exited {result.returncode}: {result.stderr[-2000:]}")
        return result

    def sh(self, command: str, check: bool = True) -> str:
        return self.run(command, check=check).stdout

    def main_pid(self, unit: str) -> int:
        return int(self.sh(f"systemctl show -p MainPID --value {unit}").strip())

    def cmdline(self, unit: str) -> list[str]:
        raw = self.sh(f"cat /proc/{self.main_pid(unit)}/cmdline | tr '\\0' '\\n'")
        return raw.splitlines()

    def tail(self, label: str, n: int = 40) -> str:
        return "\n".join(self.logs[label][-n:])


@contextmanager
def eth_session(name: str, work: Path) -> Iterator[EthLab]:
    """Boot lab host `name` (a stale one is removed first), serve and lock the stand-in
    releases from `work`, bootstrap the admin user as root and apply the validator plan
    (phase 1, validator disabled); remove the host afterwards. Also used by bench/."""
    require_root()
    ensure_host_packages()
    stale = LabHost.get(name)
    if stale:
        stale.down()
    host = LabHost.up(name)
    mirror = Mirror(work / "www", host.host_side_address)
    try:
        build_release_files(mirror)
        mirror.start()
        env = EthLab(host, mirror, lock_test_artifacts(mirror, work), work / "known_hosts")
        plan = build_plan(env.stack())
        root = Target(host.address, "root", 22, host.ssh_key_path, env.known_hosts)
        boot = env.apply("bootstrap", plan, target=root, only={"base_packages", "create_user"})
        assert boot.ok, env.tail("bootstrap")
        first = env.apply("phase1", plan)
        assert first.ok, env.tail("phase1")
        yield env
    finally:
        if mirror.server:
            mirror.server.shutdown()
        host.down()


@pytest.fixture(scope="module")
def eth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EthLab]:
    seconds: dict[str, float] = {}
    try:
        with eth_session(HOST_NAME, tmp_path_factory.mktemp("eth")) as env:
            seconds = env.seconds
            yield env
    finally:
        print(f"\nethereum lab: apply seconds {json.dumps({k: round(v, 1) for k, v in seconds.items()})}")
        print(f"ethereum lab: systemd-analyze security {json.dumps(SECURITY)}")


def test_artifacts_verified_and_installed_side_by_side(eth: EthLab) -> None:
    for name, version in (("geth", "1.0.0"), ("lighthouse", "1.0.0"), ("mev-boost", "1.0.0")):
        assert eth.sh(f"readlink /opt/infrakit/{name}/current").strip() == version
        marker = eth.sh(f"cat /opt/infrakit/{name}/{version}/.infrakit-artifact").strip()
        assert marker.startswith(f"{name} {version} sha256:"), marker
    assert eth.sh("stat -c '%U %a' /opt/infrakit/geth/1.0.0 /opt/infrakit/geth/1.0.0/geth").split() == [
        "root", "755", "root", "755"]


def test_units_run_with_the_rendered_flags_under_their_own_users(eth: EthLab) -> None:
    for unit, user in (("eth-execution", "eth-execution"), ("eth-beacon", "eth-beacon"),
                       ("eth-mevboost", "eth-mevboost")):
        assert eth.sh(f"systemctl is-enabled {unit}").strip() == "enabled"
        assert eth.sh(f"systemctl is-active {unit}").strip() == "active"
        assert eth.sh(f"ps -o user= -p {eth.main_pid(unit + '.service')}").strip() == user
    geth = eth.cmdline("eth-execution.service")
    assert geth[1] == "/opt/infrakit/geth/current/geth"
    for pair in (["--hoodi"], ["--http.addr", "127.0.0.1"], ["--authrpc.jwtsecret", "/etc/ethereum/jwt.hex"],
                 ["--datadir", "/var/lib/ethereum/execution"]):
        assert any(geth[i:i + len(pair)] == pair for i in range(len(geth))), (pair, geth)
    beacon = eth.cmdline("eth-beacon.service")
    for pair in (["--checkpoint-sync-url", "https://hoodi.checkpoint.sigp.io"],
                 ["--builder", "http://127.0.0.1:18550"], ["--quic-port", "9001"]):
        assert any(beacon[i:i + 2] == pair for i in range(len(beacon))), (pair, beacon)
    mev = eth.cmdline("eth-mevboost.service")
    assert "-hoodi" in mev and mev[mev.index("-min-bid") + 1] == "0.01"


def test_health_checks_of_the_plan_answer(eth: EthLab) -> None:
    """Run every http HealthCheck the plan declares through the monitoring tier's check_rpc.sh,
    with its method, body, headers, query and thresholds: a query that yields no number is
    UNKNOWN (exit 3) and fails here. The stand-ins report synced, a fresh head and 0 peers."""
    plan = build_plan(eth.stack())
    checks = {c.name: c for c in plan.health_checks if c.kind == "http" and not c.target.endswith(":9100/metrics")}
    assert set(checks) >= {"el_syncing", "el_peers", "el_head_age", "cl_syncing", "cl_peers", "cl_health",
                           "mevboost_status"}
    expected = {"el_peers": 2, "cl_peers": 2}  # CRIT: a stand-in has no peers; everything else is OK
    for name, check in checks.items():
        env = {"CHECK_NAME": name, "CHECK_URL": check.target, "CHECK_METHOD": check.method,
               "CHECK_BODY": check.body, "CHECK_EXPECT": check.expect, "CHECK_QUERY": check.query,
               "CHECK_HEADERS": "\n".join(f"{k}: {v}" for k, v in check.headers.items()),
               "CHECK_WARN": "" if check.warn is None else str(check.warn),
               "CHECK_CRIT": "" if check.crit is None else str(check.crit), "CHECK_BOUND": check.bound}
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if v)
        result = eth.run(f"env {assignments} bash /var/lib/infrakit/bundle/shared/monitoring/check_rpc.sh")
        assert result.returncode == expected.get(name, 0), f"{name}: {result.stdout}{result.stderr[-800:]}"
        if name in expected:
            assert "value=0;" in result.stdout, result.stdout
    for check in plan.health_checks:
        if check.kind == "systemd" and check.target.startswith("eth-"):
            assert eth.sh(f"systemctl is-active {check.target}").strip() == "active", check.name


def test_jwt_and_data_dirs_are_private(eth: EthLab) -> None:
    assert eth.sh("stat -c '%a %U:%G' /etc/ethereum /etc/ethereum/jwt.hex").split() == [
        "750", "root:eth-jwt", "640", "root:eth-jwt"]
    assert sorted(eth.sh("getent group eth-jwt | cut -d: -f4").strip().split(",")) == ["eth-beacon", "eth-execution"]
    for role in ("execution", "beacon", "validator"):
        assert eth.sh(f"stat -c '%a %U' /var/lib/ethereum/{role}").split() == ["700", f"eth-{role}"]
    secret = eth.sh("cat /etc/ethereum/jwt.hex").strip()
    assert len(secret) == 64 and secret not in "\n".join(eth.logs["phase1"]), "the JWT secret must never be printed"


def test_rpc_ports_are_local_and_p2p_is_public(eth: EthLab) -> None:
    listening = eth.sh("ss -Hltn")
    for port in (8545, 8551, 5052, 18550):
        assert f"127.0.0.1:{port} " in listening, port
    for port, reachable in ((30303, True), (9000, True), (8545, False), (18550, False)):
        with socket.socket() as sock:
            sock.settimeout(3)
            ok = sock.connect_ex((eth.host.address, port)) == 0
        assert ok is reachable, f"port {port} reachable={ok} from outside"


def test_validator_installed_but_not_started(eth: EthLab) -> None:
    assert eth.sh("systemctl is-enabled eth-validator.service", check=False).strip() == "disabled"
    assert eth.sh("systemctl is-active eth-validator.service", check=False).strip() == "inactive"
    unit = eth.sh("systemctl cat eth-validator.service")
    assert "--enable-doppelganger-protection" in unit and FEE_RECIPIENT in unit and "--builder-proposals" in unit
    assert "infrakit: validator=disabled" in "\n".join(eth.logs["phase1"])


def test_security_scores_recorded(eth: EthLab) -> None:
    for unit in ("eth-execution", "eth-beacon", "eth-validator", "eth-mevboost"):
        line = eth.sh(f"systemd-analyze security --no-pager {unit}.service | tail -n 1")
        score = line.split(":", 1)[1].split()[0]
        SECURITY[unit] = score
        assert float(score) <= 3.0, f"{unit}: {line}"


def test_second_apply_changes_nothing(eth: EthLab) -> None:
    report = eth.apply("second", build_plan(eth.stack()))
    assert report.ok, eth.tail("second")
    assert [s.name for s in report.steps if s.changed] == [], eth.tail("second", 80)


def test_enabling_without_keys_is_refused(eth: EthLab) -> None:
    report = eth.apply("enable_no_keys", build_plan(eth.stack(enabled=True)), changed_only=True)
    assert not report.ok and report.failed is not None and report.failed.name == "validator_state"
    assert "no validator keys were imported" in eth.tail("enable_no_keys")
    assert eth.sh("systemctl is-active eth-validator.service", check=False).strip() == "inactive"


def test_import_keys_then_enable_starts_the_validator(eth: EthLab) -> None:
    keystore = {"crypto": {"kdf": {}}, "pubkey": PUBKEY, "version": 4, "path": "m/12381/3600/0/0/0"}
    interchange = {"metadata": {"interchange_format_version": "5", "genesis_validators_root":
                                "0x212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f"}, "data": []}
    eth.sh("install -d -m 0700 /root/keys && cat > /root/keys/keystore-m_12381_3600_0_0_0.json <<'EOF'\n"
           f"{json.dumps(keystore)}\nEOF\nprintf 'correct horse' > /root/pw && cat > /root/sp.json <<'EOF'\n"
           f"{json.dumps(interchange)}\nEOF")
    wrong = dict(interchange, metadata={**interchange["metadata"], "genesis_validators_root": "0x" + "4b" * 32})
    eth.sh(f"echo {shlex.quote(json.dumps(wrong))} > /root/wrong.json")
    refused = eth.run("ik-eth-validator slashing-import /root/wrong.json", check=False)
    assert refused.returncode != 0 and "another network" in refused.stderr
    eth.sh("ik-eth-validator slashing-import /root/sp.json")
    eth.sh("ik-eth-validator import-keys --keys-dir /root/keys --password-file /root/pw")
    assert eth.sh(f"ls /var/lib/ethereum/validator/validators/0x{PUBKEY}").strip() == "voting-keystore.json"
    report = eth.apply("phase2", build_plan(eth.stack(enabled=True)), changed_only=True)
    assert report.ok, eth.tail("phase2")
    assert eth.sh("systemctl is-active eth-validator.service").strip() == "active"
    assert eth.sh("ps -o user= -p $(systemctl show -p MainPID --value eth-validator)").strip() == "eth-validator"
    running = eth.run("ik-eth-validator slashing-export /root/out.json", check=False)
    assert running.returncode == 3, "exporting while the validator signs must be refused"


def test_version_bump_reruns_only_its_steps_and_restarts_only_its_service(eth: EthLab) -> None:
    pids = {u: eth.main_pid(u) for u in ("eth-execution", "eth-beacon", "eth-validator", "eth-mevboost")}
    report = eth.apply("bump", build_plan(eth.stack(geth="1.0.1", enabled=True)), changed_only=True)
    assert report.ok, eth.tail("bump")
    ran = [s.name for s in report.steps if s.status == "ok"]
    assert ran == ["eth_rollback_guard", "artifact_geth", "unit_execution", "eth_smoke"], ran
    assert eth.sh("readlink /opt/infrakit/geth/current /opt/infrakit/geth/previous").split() == ["1.0.1", "1.0.0"]
    after = {u: eth.main_pid(u) for u in pids}
    assert after["eth-execution"] != pids["eth-execution"], "the execution client must restart on a bump"
    assert {u: after[u] for u in pids if u != "eth-execution"} == {u: pids[u] for u in pids if u != "eth-execution"}
    version = eth.sh("curl -fsS -H 'Content-Type: application/json' --data "
                     "'{\"jsonrpc\":\"2.0\",\"method\":\"web3_clientVersion\",\"params\":[],\"id\":1}' "
                     "http://127.0.0.1:8545")
    assert "v1.0.1" in version


def test_builders_reach_the_validator_client_and_leave_with_the_stack(eth: EthLab) -> None:
    """ePBS builders (hoodi: Glamsterdam scheduled): lighthouse's builder_definitions.yml is copied into its
    validators dir by the unit's ExecStartPre, under the sandbox, as the service user; a builder change
    restarts only the validator client; removing the builders removes the copy lighthouse would keep using."""
    dest = "/var/lib/ethereum/validator/validators/builder_definitions.yml"
    units = ("eth-execution", "eth-beacon", "eth-validator", "eth-mevboost")
    pids = {u: eth.main_pid(u) for u in units}
    report = eth.apply("builders", build_plan(eth.stack(geth="1.0.1", enabled=True,
                                                        builders=["https://builder.example.org"])), changed_only=True)
    assert report.ok, eth.tail("builders")
    ran = [s.name for s in report.steps if s.status == "ok"]
    assert ran == ["eth_prepare", "unit_validator", "validator_state", "eth_smoke"], ran
    assert eth.sh(f"stat -c '%a %U' {dest}").strip() == "600 eth-validator"
    text = eth.sh(f"cat {dest}")
    assert 'url: "https://builder.example.org"' in text and "min_bid: 5" in text, text
    after = {u: eth.main_pid(u) for u in units}
    assert after["eth-validator"] != pids["eth-validator"], "a builder change must restart the validator client"
    assert {u: after[u] for u in units if u != "eth-validator"} == {u: pids[u] for u in units if u != "eth-validator"}
    report = eth.apply("no_builders", build_plan(eth.stack(geth="1.0.1", enabled=True)), changed_only=True)
    assert report.ok, eth.tail("no_builders")
    assert eth.run(f"test -e {dest}").returncode != 0, "the copy of a removed builder list must go"
    assert eth.sh("systemctl is-active eth-validator.service").strip() == "active"


def test_corrupted_artifact_is_refused_and_the_running_version_keeps_running(eth: EthLab) -> None:
    pid = eth.main_pid("eth-execution")
    report = eth.apply("corrupt", build_plan(eth.stack(geth="1.0.2", enabled=True)), changed_only=True)
    assert not report.ok and report.failed is not None and report.failed.name == "artifact_geth"
    assert "sha256 mismatch" in eth.tail("corrupt")
    assert eth.sh("readlink /opt/infrakit/geth/current").strip() == "1.0.1"
    assert eth.sh("ls -A /opt/infrakit/geth").split() == ["1.0.0", "1.0.1", "current", "previous"]
    assert eth.main_pid("eth-execution") == pid and eth.sh("systemctl is-active eth-execution").strip() == "active"


def test_unlocked_artifact_is_refused_before_download(eth: EthLab) -> None:
    plan = build_plan(eth.stack(geth="1.0.1", enabled=True))
    step = plan.step("artifact_geth").step
    unlocked = step.model_copy(update={"params": {**step.params, "ARTIFACT_VERSION": "9.9.9", "ARTIFACT_SHA256": ""}})
    only = plan.model_copy(update={"steps": plan_steps([unlocked])})
    report = eth.apply("unlocked", only)
    assert not report.ok
    assert "is not locked" in eth.tail("unlocked") and "Nothing was downloaded" in eth.tail("unlocked")
    assert eth.sh("readlink /opt/infrakit/geth/current").strip() == "1.0.1"


def test_rollback_to_the_previous_version_needs_no_download(eth: EthLab) -> None:
    """The previous version stays unpacked: rolling back works even with the mirror's copy gone."""
    (eth.mirror.root / "mirror" / "geth" / "1.0.0" / "geth-linux-amd64-1.0.0.tar.gz").unlink()
    plan = build_plan(eth.stack(geth="1.0.0", enabled=True))
    # geth's database has no documented downgrade path: the guard refuses before anything switches
    refused = eth.apply("rollback_refused", plan, changed_only=True)
    assert not refused.ok and refused.failed is not None and refused.failed.name == "eth_rollback_guard"
    assert "refusing to downgrade geth 1.0.1 -> 1.0.0" in eth.tail("rollback_refused")
    assert eth.sh("readlink /opt/infrakit/geth/current").strip() == "1.0.1"
    # an operator who followed the runbook (data dir moved away) applies without the guard
    steps = {p.step.name for p in plan.steps} - {"eth_rollback_guard"}
    report = eth.apply("rollback", plan, only=steps, changed_only=True)
    assert report.ok, eth.tail("rollback")
    assert eth.sh("readlink /opt/infrakit/geth/current /opt/infrakit/geth/previous").split() == ["1.0.0", "1.0.1"]
    assert "downloading" not in eth.tail("rollback")
    assert eth.sh("systemctl is-active eth-execution eth-validator").split() == ["active", "active"]


def test_a_doppelganger_exit_is_not_restarted(eth: EthLab) -> None:
    """systemd must not restart a validator client that stopped because its keys are live elsewhere."""
    assert eth.sh("systemctl is-active eth-validator.service").strip() == "active"
    eth.sh("touch /var/lib/ethereum/validator/.standin-doppelganger")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and eth.sh("systemctl is-active eth-validator.service", check=False).strip() \
            == "active":
        time.sleep(0.5)
    time.sleep(15)  # RestartSec=10: a restart would have happened by now
    show = eth.sh("systemctl show -p ActiveState -p NRestarts -p ExecMainStatus eth-validator.service")
    assert "ExecMainStatus=1" in show and "NRestarts=0" in show, show
    assert "ActiveState=failed" in show or "ActiveState=inactive" in show, show
    eth.sh("rm -f /var/lib/ethereum/validator/.standin-doppelganger && systemctl reset-failed eth-validator.service")
