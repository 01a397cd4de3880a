"""The Monad plan on a real Debian 12 lab host with the TEST STAND-IN `monad` package.

One lab host (INFRAKIT_E2E_MONAD_HOST, default <prefix>mon: tests/lab_names.py) is converged
with a Monad full-node stack (osOverride debian-12-lab, hardwareChecks report, no TrieDB
device: a container has none) whose repository is a local reprepro repository signed with a
throwaway key and served from the lab's own host-side address. It proves InfraKit's side:
signed repository + key + pin + hold, keys created once and never overwritten, config in the
package's layout, services in order, firewall, smoke test, a no-op re-apply, an upgrade, a
refused downgrade, and refused unsigned / wrongly signed repositories. It does not prove
Monad (see adapters/monad/SOURCES.md).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapters.monad.plan import SERVICES
from infrakit.config import Stack
from infrakit.plan import HostPlan, build_plan
from infrakit_lab.host import LabHost
from tests.adapters.monad.conftest import BENEFICIARY, PASSWORD, TEST_BASE
from tests.adapters.monad.standin import build_deb
from tests.e2e.conftest import Lab, lab_session, lab_stack
from tests.e2e.test_artifact_kinds import Server
from tests.infrakit.artifacts.aptrepo import Keys, build_repo
from tests.lab_names import test_host

pytestmark = pytest.mark.lab

HOST_NAME = os.environ.get("INFRAKIT_E2E_MONAD_HOST") or test_host("mon")
TEST_TOOLS = {"reprepro": "reprepro", "gpg": "gpg"}
BUNDLE = "/var/lib/infrakit/bundle"
SECONDS: dict[str, float] = {}


def ensure_test_tools() -> None:
    missing = sorted({pkg for tool, pkg in TEST_TOOLS.items() if shutil.which(tool) is None})
    if missing:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
            check=True,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )


@dataclass
class MonadLab:
    work: Path
    keys: Keys
    fingerprint: str
    attacker: str
    debs: dict[str, Path]
    servers: list[Server] = field(default_factory=list)
    lab: Lab | None = None

    @property
    def www(self) -> Server:
        return self.servers[0]

    def stack(self, host: LabHost, version: str = "1.0.0", path: str = "apt", **settings: Any) -> Stack:
        if not self.servers:
            server = Server(self.work / "www", host.host_side_address)
            server.start()
            self.servers.append(server)
        chain_settings = {
            "nodeName": "infrakit-lab-1",
            "beneficiary": BENEFICIARY,
            "version": version,
            "peers": [{"address": "203.0.113.7:8000", "secp256k1Pubkey": "02" + "ab" * 32}],
            "triedb": {"labNoDevice": True},
            "nodeConfigBase": str(self.work / "node-base.toml"),
            "osOverride": "debian-12-lab",
            "hardwareChecks": "report",
            "repository": {
                "uri": f"{self.www.url}/{path}",
                "keyFile": str(self.work / "category-labs-TEST.asc"),
                "keyFingerprint": self.fingerprint,
            },
            **settings,
        }
        return lab_stack(
            host,
            secure=["monadKeystorePassword"],
            chain="monad",
            role="fullnode",
            network="testnet",
            chainSettings=chain_settings,
        )

    def plan(self, **kwargs: Any) -> HostPlan:
        assert self.lab
        return build_plan(self.stack(self.lab.host, **kwargs))

    def sh(self, command: str, check: bool = True) -> str:
        assert self.lab
        return self.lab.guest("sh", "-c", command, check=check).stdout

    def run(self, command: str, unit_stopped: str | None = None) -> subprocess.CompletedProcess[str]:
        """`command` as root in the guest (exit status and both streams); `unit_stopped` is
        stopped around it and started again."""
        assert self.lab
        if unit_stopped:
            self.sh(f"systemctl stop {unit_stopped}")
        try:
            return self.lab.guest("sh", "-c", command, check=False, timeout=120)
        finally:
            if unit_stopped:
                self.sh(f"systemctl start {unit_stopped}")

    def log(self, label: str) -> str:
        assert self.lab
        return "\n".join(self.lab.logs[label])


@pytest.fixture(scope="module")
def monad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MonadLab]:
    ensure_test_tools()
    work = tmp_path_factory.mktemp("monad")
    start = time.monotonic()
    with Keys(work / "gnupg") as keys:
        fpr = keys.create("monad-repo@infrakit.invalid")
        attacker = keys.create("monad-attacker@infrakit.invalid")
        (work / "category-labs-TEST.asc").write_text(keys.armored(fpr))
        (work / "node-base.toml").write_text(TEST_BASE)
        debs = {v: build_deb(work, v) for v in ("1.0.0", "1.0.1", "1.0.2")}
        www = work / "www"
        build_repo(keys, www / "apt", fpr, [debs["1.0.0"]], suite="noble")
        build_repo(keys, www / "apt-next", fpr, [debs["1.0.1"]], suite="noble")
        state = MonadLab(work, keys, fpr, attacker, debs)
        try:
            with lab_session(
                HOST_NAME, tmp_path_factory, make_stack=state.stack, secrets={"monadKeystorePassword": PASSWORD}
            ) as lab:
                SECONDS["boot_and_first_apply"] = round(time.monotonic() - start, 1)
                state.lab = lab
                yield state
        finally:
            for server in state.servers:
                if server.server:
                    server.server.shutdown()
            print(f"\nmonad lab: seconds {SECONDS}")


def test_first_apply_installs_the_pinned_held_package_and_runs_the_node(monad: MonadLab) -> None:
    log = monad.log("first")
    assert monad.sh("dpkg-query -W -f='${Version}' monad") == "1.0.0"
    assert monad.sh("apt-mark showhold monad").strip() == "monad"
    assert "TEST STAND-IN" in monad.sh("dpkg-query -W -f='${Description}' monad")
    sources = monad.sh("cat /etc/apt/sources.list.d/infrakit-category-labs.sources")
    assert f"Signed-By: /etc/apt/keyrings/infrakit-category-labs.asc {monad.fingerprint}" in sources
    assert "Pin: version 1.0.0" in monad.sh("cat /etc/apt/preferences.d/infrakit-category-labs.pref")
    assert "infrakit: monad_layout=etc" in log
    assert "monad_key type=secp path=/var/lib/monad/private/id-secp public_key=02" in log
    assert "state=created" in log and PASSWORD not in log, "keys printed, the password never"
    for unit in ("otelcol", "monad-execution", "monad-bft", "monad-rpc"):
        assert monad.sh(f"systemctl is-active {unit}.service", check=False).strip() == "active", unit
    assert monad.sh("systemctl is-enabled monad-cruft.timer").strip() == "enabled"
    assert "infrakit: monad_smoke block=" in log
    assert "infrakit: monad_check os=debian-12 ok override=debian-12-lab" in log
    assert "infrakit: monad_check cores=" in log and "FAIL" in log, "the lab's 2 cores are reported, not hidden"


def test_tuning_fills_in_the_documented_buffers_the_package_does_not_set(monad: MonadLab) -> None:
    """The package's sysctl file is the authority for its keys (the stand-in's sets rmem_max and
    tcp_rmem); Monad's other documented buffers go to InfraKit's file, which sorts before it."""
    docs = monad.sh("cat /etc/sysctl.d/89-infrakit-monad.conf")
    assert "net.ipv4.tcp_wmem = 4096 12582912 12582912\n" in docs and "net.core.wmem_max = 62500000\n" in docs
    assert "rmem_max" not in docs and "tcp_rmem" not in docs, "the package's own keys are never overridden"
    # tcp_wmem is per network namespace: the container keeps it
    assert monad.sh("sysctl -n net.ipv4.tcp_wmem").split() == ["4096", "12582912", "12582912"]
    assert monad.lab
    line = next(x for x in monad.lab.logs["first"] if "infrakit: monad_tuning " in x)
    assert "docs_below=" in line and "net.ipv4.tcp_rmem" in line, "the stand-in's tcp_rmem is below the docs: reported"


def test_keys_and_config_are_private_and_in_the_package_layout(monad: MonadLab) -> None:
    stat = monad.sh(
        "stat -c '%n %a %U:%G' /var/lib/monad/private/id-secp /var/lib/monad/private/id-bls "
        "/etc/monad/env /etc/monad/node.toml /root/monad-key-backup /root/monad-key-backup/id-secp.create-output"
    )
    assert stat.splitlines() == [
        "/var/lib/monad/private/id-secp 640 root:monad",
        "/var/lib/monad/private/id-bls 640 root:monad",
        "/etc/monad/env 640 root:monad",
        "/etc/monad/node.toml 640 root:monad",
        "/root/monad-key-backup 700 root:root",
        "/root/monad-key-backup/id-secp.create-output 600 root:root",
    ]
    env = monad.sh("cat /etc/monad/env")
    assert f"KEYSTORE_PASSWORD={PASSWORD}\n" in env and "CHAIN=monad_testnet\n" in env
    assert 'node_name = "infrakit-lab-1"' in monad.sh("cat /etc/monad/node.toml")
    # the stand-in node checked that its keystores open with the env file's password
    assert "node infrakit-lab-1" in monad.sh("journalctl -u monad-bft -o cat --no-pager")


def test_second_apply_changes_nothing_and_keeps_the_keys(monad: MonadLab) -> None:
    assert monad.lab
    before = monad.sh("sha256sum /var/lib/monad/private/id-secp /var/lib/monad/private/id-bls")
    report = monad.lab.apply("second")
    assert report.ok, monad.log("second")[-3000:]
    changed = [line for line in monad.lab.logs["second"] if "changed=1" in line]
    assert changed == [], changed
    assert monad.sh("sha256sum /var/lib/monad/private/id-secp /var/lib/monad/private/id-bls") == before
    assert "state=kept" in monad.log("second")


LEGACY_UNIT = "[Service]\nEnvironmentFile=/home/monad/.env\nExecStart=/usr/local/bin/monad-node\n"


def test_the_legacy_home_layout_is_followed_when_the_unit_reads_it(monad: MonadLab) -> None:
    """Older packages read /home/monad/.env (the docs' layout): configure.sh follows the
    monad-bft unit it finds, so the same step writes the home layout there, keys created once."""
    step = f"{BUNDLE}/steps/monad_config"
    monad.sh(
        f"umask 077; printf '%s' '{PASSWORD}' > /root/legacy-pw; printf '{LEGACY_UNIT}' > /root/legacy-bft.service"
    )
    before = monad.sh("sha256sum /etc/monad/env /var/lib/monad/private/id-secp")
    run = (
        f'KEYSTORE_PASSWORD="$(cat /root/legacy-pw)" IK_MONAD_UNIT_FILE=/root/legacy-bft.service '
        f"IK_STEP=monad_config IK_STEP_DIR={step} BACKUP_DIR=/root/legacy-backup "
        f"bash {BUNDLE}/adapters/monad/scripts/configure.sh"
    )
    first = monad.run(run)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "infrakit: monad_layout=home" in first.stdout and first.stdout.count("state=created") == 2, first.stdout
    assert PASSWORD not in first.stdout + first.stderr, "the password is never printed"
    stat = monad.sh(
        "stat -c '%n %a %U:%G' /home/monad/.env /home/monad/monad-bft/config/node.toml "
        "/home/monad/monad-bft/config/id-secp /home/monad/monad-bft/config/id-bls"
    )
    assert stat.splitlines() == [
        "/home/monad/.env 600 monad:monad",
        "/home/monad/monad-bft/config/node.toml 640 monad:monad",
        "/home/monad/monad-bft/config/id-secp 600 monad:monad",
        "/home/monad/monad-bft/config/id-bls 600 monad:monad",
    ]
    assert f"KEYSTORE_PASSWORD={PASSWORD}\n" in monad.sh("cat /home/monad/.env")
    again = monad.run(run)
    assert again.returncode == 0 and again.stdout.count("state=kept") == 2, again.stdout + again.stderr[-1500:]
    assert again.stdout.splitlines()[-1] == "infrakit: step=monad_config changed=0", again.stdout
    assert monad.sh("sha256sum /etc/monad/env /var/lib/monad/private/id-secp") == before, "the etc layout untouched"
    # runs after the no-op re-apply: the home layout's files move the services' fingerprint
    monad.sh("rm -rf /root/legacy-pw /root/legacy-bft.service /root/legacy-backup")


def test_rpc_answers_on_the_host_and_is_closed_from_outside(monad: MonadLab) -> None:
    assert monad.lab
    inside = monad.sh(
        "curl -s -X POST -H 'Content-Type: application/json' "
        '--data \'{"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":1}\' '
        "http://127.0.0.1:8080"
    )
    assert '"result": "0x' in inside
    rules = monad.sh("ufw status")
    for rule in ("8000/tcp", "8000/udp", "8001/udp"):
        assert rule in rules, rules
    for port in ("8080", "9143", "4317", "8889"):
        assert f"{port}/" not in rules, rules


def test_health_checks_of_the_plan_answer(monad: MonadLab) -> None:
    """Every http HealthCheck of the plan, run by the monitoring tier's check_rpc.sh on the host
    with its method, body, query and thresholds: answering, advancing (head age), synced."""
    checks = [
        c for c in monad.plan().health_checks if c.kind == "http" and c.target.startswith("http://127.0.0.1:8080")
    ]
    assert {c.name for c in checks} == {"monad_syncing", "monad_block_number", "monad_head_age"}
    for check in checks:
        env = {
            "CHECK_NAME": check.name,
            "CHECK_URL": check.target,
            "CHECK_METHOD": check.method,
            "CHECK_BODY": check.body,
            "CHECK_EXPECT": check.expect,
            "CHECK_QUERY": check.query,
            "CHECK_HEADERS": "\n".join(f"{k}: {v}" for k, v in check.headers.items()),
            "CHECK_WARN": "" if check.warn is None else str(check.warn),
            "CHECK_CRIT": "" if check.crit is None else str(check.crit),
            "CHECK_BOUND": check.bound,
        }
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if v)
        result = monad.run(f"env {assignments} bash {BUNDLE}/shared/monitoring/check_rpc.sh")
        assert result.returncode == 0, f"{check.name}: {result.stdout}{result.stderr[-800:]}"


SMOKE = f"{BUNDLE}/adapters/monad/scripts/smoke_test.sh"
SMOKE_ENV = f"SERVICES={shlex.quote(' '.join(SERVICES))} LOCAL_PORTS=8080 WAIT_SECONDS=4"
# A TEST RPC on another loopback port whose head never moves (a node that stopped following).
STUCK_RPC = (
    "import http.server, json\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_POST(self):\n"
    "        self.rfile.read(int(self.headers['Content-Length']))\n"
    "        body = json.dumps({'jsonrpc': '2.0', 'id': 1, 'result': '0x7'}).encode()\n"
    "        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def log_message(self, *a): pass\n"
    "http.server.HTTPServer(('127.0.0.1', 8098), H).serve_forever()\n"
)


def test_smoke_test_passes_a_statesyncing_node_and_fails_a_stuck_one(monad: MonadLab) -> None:
    """monad-rpc listens only once statesync completes (Monad's docs): a fresh node's first
    converge must not fail for it, while an RPC that listens but whose head stands still must."""
    syncing = monad.run(f"env {SMOKE_ENV} RPC_URL=http://127.0.0.1:8099 bash {SMOKE}")
    assert syncing.returncode == 0, syncing.stderr[-1500:]
    assert "infrakit: monad_smoke block=- statesync=running" in syncing.stdout
    assert "statesync is running" in syncing.stderr
    stuck = monad.run(
        f"timeout 60 python3 -c {shlex.quote(STUCK_RPC)} & server=$!; sleep 1; "
        f"env {SMOKE_ENV} RPC_URL=http://127.0.0.1:8098 bash {SMOKE}; rc=$?; kill $server; exit $rc"
    )
    assert stuck.returncode != 0 and "the head does not advance: block 7" in stuck.stderr, stuck.stderr[-1500:]
    stopped = monad.run(f"env SERVICES=monad-rpc.service WAIT_SECONDS=4 bash {SMOKE}", unit_stopped="monad-rpc")
    assert stopped.returncode != 0 and "monad-rpc.service is not active" in stopped.stderr, stopped.stderr[-1500:]
    assert monad.sh("systemctl is-active monad-rpc").strip() == "active", "restarted after the check"


def test_upgrade_then_a_downgrade_is_refused(monad: MonadLab) -> None:
    assert monad.lab
    report = monad.lab.apply("upgrade", plan=monad.plan(version="1.0.1", path="apt-next"))
    assert report.ok, monad.log("upgrade")[-3000:]
    assert monad.sh("dpkg-query -W -f='${Version}' monad") == "1.0.1"
    assert monad.sh("apt-mark showhold monad").strip() == "monad"
    refused = monad.lab.apply("downgrade", plan=monad.plan(version="1.0.0"), only={"monad_package"})
    assert not refused.ok and "downgrade refused" in monad.log("downgrade")
    assert monad.sh("dpkg-query -W -f='${Version}' monad") == "1.0.1"


def test_wrongly_signed_and_unsigned_repositories_are_refused(monad: MonadLab) -> None:
    assert monad.lab
    www = monad.work / "www"
    build_repo(monad.keys, www / "apt-evil", monad.attacker, [monad.debs["1.0.2"]], suite="noble")
    bad = monad.lab.apply("evil", plan=monad.plan(version="1.0.2", path="apt-evil"), only={"monad_package"})
    assert not bad.ok and "apt refused repository category-labs" in monad.log("evil"), monad.log("evil")[-2000:]
    unsigned = www / "apt-unsigned"
    build_repo(monad.keys, unsigned, monad.fingerprint, [monad.debs["1.0.2"]], suite="noble")
    for name in ("InRelease", "Release.gpg"):
        (unsigned / "dists" / "noble" / name).unlink()
    plain = monad.lab.apply("unsigned", plan=monad.plan(version="1.0.2", path="apt-unsigned"), only={"monad_package"})
    assert not plain.ok and "not signed" in monad.log("unsigned"), monad.log("unsigned")[-2000:]
    assert monad.sh("dpkg-query -W -f='${Version}' monad") == "1.0.1"
    assert monad.sh("apt-mark showhold monad").strip() == "monad"
