"""status_server.py's logic, run locally with fake systemd, dpkg, state files and servers."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.shared.conftest import REPO
from tests.shared.monitoring.fakes import NodeState, node_handler, serve

sys.path.insert(0, str(REPO / "shared" / "monitoring"))
import status_server as ss

CHRONY_SKIPPED = ("Id=chrony.service\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nConditionResult=no\n"
                  "ConditionTimestampMonotonic=2154220\nUnitFileState=enabled\n")
SSH_ACTIVE = ("Id=ssh.service\nLoadState=loaded\nActiveState=active\nSubState=running\nConditionResult=yes\n"
              "ActiveEnterTimestampMonotonic=5000000\n")
F2B_FAILED = "Id=fail2ban.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nConditionResult=yes\n"
MISSING = "Id=nope.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nConditionResult=no\n"
CONDITIONS = '{"type":"a(sbbsi)","data":[["ConditionCapability",false,false,"CAP_SYS_TIME",0]]}'


class FakeSystemd:
    """Stands in for subprocess.run: answers systemctl show / busctl, runs anything else."""

    def __init__(self, blocks: str) -> None:
        self.blocks = blocks
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv)
        if argv[0] == "systemctl":
            wanted = set(argv[argv.index("--") + 1:])
            out = "\n\n".join(b for b in self.blocks.split("\n\n") if re.search(r"^Id=(.+)$", b, re.M)
                              and re.search(r"^Id=(.+)$", b, re.M)[1] in wanted)  # type: ignore[index]
            return subprocess.CompletedProcess(argv, 0, out + "\n", "")
        if argv[0] == "busctl":
            return subprocess.CompletedProcess(argv, 0, CONDITIONS, "")
        return subprocess.run(argv, **kwargs)  # noqa: PLW1510 - check= is in kwargs


@pytest.fixture
def node() -> Iterator[tuple[str, NodeState]]:
    state = NodeState()
    server = serve(node_handler(state), 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def write_config(tmp: Path, checks: list[dict[str, Any]], **extra: Any) -> Path:
    (tmp / "checks.json").write_text(json.dumps(checks))
    state = tmp / "state"
    state.mkdir(exist_ok=True)
    (state / "base_packages.hash").write_text("a" * 64 + "\n")
    (state / "monitoring.hash").write_text("b" * 64 + "\n")
    (state / "last-apply").write_text(f"2026-01-02T03:04:05Z step=monitoring hash={'b' * 64}\n")
    (tmp / "dpkg-status").write_text(
        "Package: jq\nStatus: install ok installed\nVersion: 1.6-2.1\n\n"
        "Package: curl\nStatus: deinstall ok config-files\nVersion: 7.88\n\n"
        "Package: nginx\nStatus: install ok installed\nVersion: 1.22.1-9\nDescription: x\n y\n")
    (tmp / "uptime").write_text("1234.56 99.0\n")
    config = {
        "stack": "t", "chain": "none", "role": "host", "interval": 5, "timeout": 3,
        "checks_file": str(tmp / "checks.json"), "check_rpc": str(REPO / "shared/monitoring/check_rpc.sh"),
        "state_dir": str(state), "units": ["ssh.service", "chrony.service"], "data_dirs": ["/", str(tmp)],
        "packages": ["jq", "curl", "nginx"], "dpkg_status": str(tmp / "dpkg-status"),
        "proc_uptime": str(tmp / "uptime"), "alert": {"format": "generic"}, **extra,
    }
    path = tmp / "monitoring.json"
    path.write_text(json.dumps(config))
    return path


def systemd(name: str, unit: str) -> dict[str, Any]:
    return {"name": name, "kind": "systemd", "target": unit}


def test_unit_states_are_reported_honestly() -> None:
    """A condition-skipped unit (chrony in a container) is neither active nor failed."""
    units = ss.parse_unit_blocks("\n\n".join([CHRONY_SKIPPED, SSH_ACTIVE, F2B_FAILED, MISSING]))
    assert ss.unit_state(units["ssh.service"]) == "active"
    assert ss.unit_state(units["chrony.service"]) == "condition-skipped"
    assert ss.unit_state(units["fail2ban.service"]) == "failed"
    assert ss.unit_state(units["nope.service"]) == "not-found"
    assert ss.unit_state(None) == "not-found"


def test_systemd_checks(tmp_path: Path) -> None:
    checks = [systemd("sshd", "ssh.service"), systemd("chrony", "chrony.service"),
              systemd("f2b", "fail2ban.service"), systemd("nope", "nope.service")]
    config = ss.Config.load(str(write_config(tmp_path, checks)))
    fake = FakeSystemd("\n\n".join([CHRONY_SKIPPED, SSH_ACTIVE, F2B_FAILED, MISSING]))
    results = {r.name: r for r in ss.Checker(config, runner=fake).run_all()}
    assert results["sshd"].status == "OK"
    assert results["chrony"].status == "SKIPPED" and results["chrony"].code is None
    assert "ConditionCapability=CAP_SYS_TIME" in results["chrony"].summary
    assert results["f2b"].status == "CRIT" and "failed" in results["f2b"].summary
    assert results["nope"].status == "CRIT" and "does not exist" in results["nope"].summary
    assert sum(1 for call in fake.calls if call[:2] == ["systemctl", "show"]) == 1, "one systemctl call per probe"
    assert ss.overall(results.values()) == "CRIT"


F2B = "Id=fail2ban.service\nLoadState={load}\nActiveState={active}\nSubState={sub}\nConditionResult={cond}\n" \
      "ConditionTimestampMonotonic={when}\nUnitFileState={file}\n"
# How a service the plan wants running can be down, as `systemctl show` reports each one
# (measured on Debian 12's systemd 252). Each must be CRIT, whatever the condition fields say.
STOPPED = {
    # systemctl disable + reboot: never started this boot, so ConditionResult reads "no"
    "disabled and rebooted": dict(load="loaded", active="inactive", sub="dead", cond="no", when=0, file="disabled"),
    "masked": dict(load="masked", active="inactive", sub="dead", cond="no", when=0, file="masked"),
    "masked after running": dict(load="masked", active="inactive", sub="dead", cond="yes", when=5, file="masked"),
    "failed": dict(load="loaded", active="failed", sub="failed", cond="yes", when=5, file="enabled"),
    "killed": dict(load="loaded", active="inactive", sub="dead", cond="yes", when=5, file="enabled"),
    "never started": dict(load="loaded", active="inactive", sub="dead", cond="no", when=0, file="enabled"),
}


@pytest.mark.parametrize("how", sorted(STOPPED))
def test_a_stopped_service_is_crit_whatever_its_condition_fields_say(tmp_path: Path, how: str) -> None:
    """`systemctl disable fail2ban` + reboot once read SKIPPED and healthy: no alert was sent."""
    config = ss.Config.load(str(write_config(tmp_path, [systemd("f2b", "fail2ban.service")])))
    result = ss.Checker(config, runner=FakeSystemd(F2B.format(**STOPPED[how]))).run_all()[0]
    assert result.status == "CRIT", f"{how}: {result.status} {result.summary}"
    assert "plan wants it running" in result.summary
    assert ss.overall([result]) == "CRIT"


def test_only_a_condition_evaluated_this_boot_skips() -> None:
    """chrony in a container: enabled, started at boot, its ConditionCapability said no."""
    assert ss.unit_state(ss.parse_unit_blocks(CHRONY_SKIPPED)["chrony.service"]) == "condition-skipped"
    never = CHRONY_SKIPPED.replace("ConditionTimestampMonotonic=2154220", "ConditionTimestampMonotonic=0")
    assert ss.unit_state(ss.parse_unit_blocks(never)["chrony.service"]) == "inactive"


def test_describe_conditions_prefers_the_failed_ones() -> None:
    conditions = [["ConditionPathExists", False, False, "/x", 1], ["ConditionVirtualization", False, True, "container",
                                                                   -1]]
    assert ss.describe_conditions(conditions) == "ConditionVirtualization=!container"
    assert ss.describe_conditions([["ConditionCapability", False, False, "CAP_SYS_TIME", 0]]) == \
        "ConditionCapability=CAP_SYS_TIME"


def test_tcp_and_command_checks(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            dead = closed.getsockname()[1]
        checks = [{"name": "up", "kind": "tcp", "target": f"127.0.0.1:{port}"},
                  {"name": "down", "kind": "tcp", "target": f"127.0.0.1:{dead}"},
                  {"name": "ok", "kind": "command", "target": "echo fine"},
                  {"name": "warn", "kind": "command", "target": "echo meh; exit 1"},
                  {"name": "crit", "kind": "command", "target": "exit 2"},
                  {"name": "odd", "kind": "command", "target": "exit 7"},
                  {"name": "slow", "kind": "command", "target": "sleep 10"}]
        config = ss.Config.load(str(write_config(tmp_path, checks, timeout=1)))
        results = {r.name: r for r in ss.Checker(config).run_all()}
    assert {n: r.status for n, r in results.items()} == {
        "up": "OK", "down": "CRIT", "ok": "OK", "warn": "WARN", "crit": "CRIT", "odd": "UNKNOWN", "slow": "CRIT"}
    assert results["warn"].summary == "meh" and "timed out" in results["slow"].summary


def test_http_checks_run_check_rpc_with_thresholds(tmp_path: Path, node: tuple[str, NodeState]) -> None:
    url, state = node
    body = '{"jsonrpc":"2.0","id":1,"method":"net_peerCount","params":[]}'
    peers = {"name": "peers", "kind": "http", "target": url, "method": "POST", "body": body,
             "headers": {"Content-Type": "application/json"}, "query": ".result|hex", "warn": 5, "crit": 1,
             "bound": "min"}
    plain = {"name": "plain", "kind": "http", "target": url, "method": "POST", "body": body, "expect": '"result"'}
    config = ss.Config.load(str(write_config(tmp_path, [peers, plain])))
    checker = ss.Checker(config)

    def run() -> dict[str, ss.CheckResult]:
        return {r.name: r for r in checker.run_all()}

    first = run()
    assert first["peers"].status == "OK" and first["peers"].value == 12 and first["plain"].status == "OK"
    state.peers = 3
    assert run()["peers"].status == "WARN"
    state.peers = 0
    assert run()["peers"].status == "CRIT"
    state.error = "node is down"
    result = run()
    assert result["peers"].status == "CRIT" and "JSON-RPC error" in result["peers"].summary
    assert result["plain"].status == "CRIT"


def test_status_document_and_metrics(tmp_path: Path) -> None:
    checks = [systemd("sshd", "ssh.service"), systemd("chrony", "chrony.service")]
    config = ss.Config.load(str(write_config(tmp_path, checks)))
    checker = ss.Checker(config, runner=FakeSystemd("\n\n".join([CHRONY_SKIPPED, SSH_ACTIVE])), clock=lambda: 1e9)
    doc = ss.build_status(config, checker, checker.run_all(), started=1e9 - 42)
    assert doc["status"] == "OK" and doc["healthy"], "a skipped check does not make the host unhealthy"
    assert {s["unit"]: s["state"] for s in doc["services"]} == {"chrony.service": "condition-skipped",
                                                               "ssh.service": "active"}
    assert doc["services"][1]["active_seconds"] == 1229.6
    assert doc["versions"]["packages"] == {"curl": None, "jq": "1.6-2.1", "nginx": "1.22.1-9"}
    assert doc["last_apply"]["step"] == "monitoring" and doc["last_apply"]["timestamp"] == 1767323045.0
    assert doc["last_apply"]["steps"] == {"base_packages": "a" * 64, "monitoring": "b" * 64}
    assert [d["path"] for d in doc["disks"]] == ["/", str(tmp_path)] and doc["disks"][0]["size_bytes"] > 0
    assert doc["uptime"] == {"host_seconds": 1234.56, "status_server_seconds": 42.0}
    json.dumps(doc)

    text = ss.render_metrics(doc)
    families = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(families) == len(set(families))
    current = None
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            current = line.split()[2]
        elif not line.startswith("#"):
            assert current and line.startswith(current), f"{line} outside its family"
    assert 'infrakit_check_state{check="chrony",kind="systemd",state="SKIPPED"} 1' in text
    assert 'infrakit_check_ok{check="chrony"} 1' in text
    assert 'infrakit_service_state{unit="chrony.service",state="condition-skipped"} 1' in text
    assert 'infrakit_package_info{package="curl",version=""} 0' in text
    assert 'infrakit_step_info{step="monitoring",hash="bbbbbbbbbbbbbbbb"} 1' in text
    assert "infrakit_last_apply_timestamp_seconds 1767323045.0" in text
    assert 'infrakit_status{stack="t"} 0' in text


def test_label_values_are_escaped() -> None:
    assert ss._labels(a='x"y\\z\nw') == '{a="x\\"y\\\\z\\nw"}'


def test_since_survives_an_unchanged_status() -> None:
    old = ss.CheckResult("a", "tcp", "t", "CRIT", "x", checked_at=100, since=90)
    same = ss.CheckResult("a", "tcp", "t", "CRIT", "x", checked_at=105)
    other = ss.CheckResult("a", "tcp", "t", "OK", "x", checked_at=110)
    assert ss.merge_since([same], {"a": old})[0].since == 90
    assert ss.merge_since([other], {"a": same})[0].since == 110


@pytest.mark.parametrize(("checks", "message"), [
    ("{}", "JSON list"),
    ('[{"name": "a", "kind": "smtp", "target": "x"}]', "unknown kind"),
    ('[{"name": "a", "kind": "tcp", "target": "x:1"}, {"name": "a", "kind": "tcp", "target": "y:1"}]', "twice"),
    ('[{"name": "a", "kind": "tcp"}]', "needs name, kind and target"),
])
def test_bad_checks_file_is_refused(tmp_path: Path, checks: str, message: str) -> None:
    path = write_config(tmp_path, [])
    (tmp_path / "checks.json").write_text(checks)
    with pytest.raises(ss.ConfigError, match=message):
        ss.Config.load(str(path))


def test_cli_validate_and_check(tmp_path: Path) -> None:
    path = write_config(tmp_path, [{"name": "ok", "kind": "command", "target": "echo fine"}])
    script = str(REPO / "shared/monitoring/status_server.py")
    out = subprocess.run([sys.executable, "-I", script, "validate", "--config", str(path)], capture_output=True,
                         text=True, timeout=30, check=False)
    assert out.returncode == 0 and "1 checks" in out.stdout
    out = subprocess.run([sys.executable, "-I", script, "check", "--config", str(path)], capture_output=True,
                         text=True, timeout=30, check=False)
    assert [(r["name"], r["status"], r["summary"]) for r in json.loads(out.stdout)] == [("ok", "OK", "fine")]
    (tmp_path / "monitoring.json").write_text('{"bogus": 1}')
    out = subprocess.run([sys.executable, "-I", script, "validate", "--config", str(path)], capture_output=True,
                         text=True, timeout=30, check=False)
    assert out.returncode == 2 and "unknown keys" in out.stderr


def test_http_server_serves_the_snapshot_only(tmp_path: Path) -> None:
    """Requests read the last snapshot; they never run checks (no amplification)."""
    config = ss.Config.load(str(write_config(tmp_path, [systemd("sshd", "ssh.service")])))
    fake = FakeSystemd(SSH_ACTIVE)
    checker = ss.Checker(config, runner=fake)
    state = ss.State()
    server = ss.ThreadingHTTPServer(("127.0.0.1", 0), ss.make_handler(state, config))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    def get(path: str, method: str = "GET") -> tuple[int, str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, response.getheader("Content-Type") or "", response.read().decode()
        finally:
            conn.close()

    try:
        assert get("/status")[0] == 503, "no snapshot yet"
        ss.probe_once(config, checker, state, started=0)
        calls = len(fake.calls)
        status, ctype, body = get("/status")
        assert status == 200 and ctype == "application/json" and json.loads(body)["checks"][0]["status"] == "OK"
        status, ctype, body = get("/metrics")
        assert status == 200 and ctype.startswith("text/plain; version=0.0.4") and "infrakit_check_state" in body
        assert get("/healthz")[0] == 200
        assert get("/nope")[0] == 404
        assert get("/status", "POST")[0] == 501
        assert len(fake.calls) == calls, "serving requests must not run checks"
    finally:
        server.shutdown()
        server.server_close()
