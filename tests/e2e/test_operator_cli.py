"""The operator's CLI on a real lab host, run as an operator runs it (a subprocess, no TTY):
a cold converge prints one screen, the full log is in a file, a failing step shows its tail,
and the `lab` stack is used against this host with --host/--admin-cidr only (no edited file).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.registry import REGISTRY
from infrakit.config import load_stack
from infrakit.plan import build_plan
from infrakit.plan.sources import PROJECT_ROOT
from infrakit_lab.host import LabHost, ensure_host_packages
from tests.e2e.conftest import ADMIN_KEY, require_root
from tests.lab_names import test_host
from tests.runbooks.test_runbooks import ON_LAB_HOST_LOCAL, ON_LAB_HOST_REMOTE

pytestmark = pytest.mark.lab

HOST_NAME = os.environ.get("INFRAKIT_E2E_CLI_HOST") or test_host("cli")
SCREEN = 24  # lines of a classic terminal: a cold converge must fit
# the lab stack's plan, as this checkout builds it (one line per step is the contract)
PLAN_STEPS = len(build_plan(load_stack("lab", REGISTRY)).steps)


@dataclass
class CliHost:
    host: LabHost
    admin_key: Path
    known_hosts: Path
    tmp: Path

    def infrakit(self, *args: str, check: bool = False, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        argv = [str(Path(sys.executable).parent / "infrakit"), *args]
        env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "FORCE_COLOR"}}
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT, env=env, check=False
        )
        assert not check or result.returncode == 0, result.stdout + result.stderr
        return result

    @property
    def overrides(self) -> list[str]:
        return ["--host", self.host.address, "--admin-cidr", f"{self.host.host_side_address}/32"]

    def apply(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.infrakit(
            "apply", "lab", *self.overrides, "-i", str(self.admin_key), "--known-hosts", str(self.known_hosts), *extra
        )


@pytest.fixture(scope="module")
def cli_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliHost]:
    require_root()
    ensure_host_packages()
    stale = LabHost.get(HOST_NAME)
    if stale:
        stale.down()
    host = LabHost.up(HOST_NAME)
    tmp = tmp_path_factory.mktemp(f"cli-{HOST_NAME}")
    admin_key = tmp / "admin_ed25519"
    shutil.copy(ADMIN_KEY, admin_key)
    admin_key.chmod(0o600)  # OpenSSH refuses a readable key (infrakit ssh uses it)
    try:
        yield CliHost(host, admin_key, tmp / "known_hosts", tmp)
    finally:
        host.down()


@pytest.fixture(scope="module")
def cold(cli_host: CliHost) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    report = cli_host.tmp / "cold.json"
    result = cli_host.apply(
        "--bootstrap-user", "root", "--bootstrap-identity", str(cli_host.host.ssh_key_path), "--json", str(report)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result, json.loads(report.read_text())


def test_a_cold_converge_prints_one_screen(cold: tuple[subprocess.CompletedProcess[str], dict[str, object]]) -> None:
    """It printed ~470-630 lines (mostly apt) before: nobody read the one line that mattered."""
    result, _ = cold
    lines = result.stdout.splitlines()
    print(f"cold converge: {len(lines)} lines on stdout, {len(result.stderr.splitlines())} on stderr")
    assert len(lines) <= SCREEN, result.stdout
    assert result.stderr == ""
    assert "Setting up" not in result.stdout and "Unpacking" not in result.stdout, "apt output belongs in the log"
    step_lines = [line for line in lines if line.startswith("✓ ")]
    assert len(step_lines) == 2 + PLAN_STEPS, "one line per step and phase"
    assert lines[-2].startswith(f"ok: lab converged: {PLAN_STEPS} steps, {PLAN_STEPS} changed (2 during the bootstrap)")


def test_the_full_log_is_in_the_printed_file(cold: tuple[subprocess.CompletedProcess[str], dict[str, object]]) -> None:
    result, report = cold
    first = result.stdout.splitlines()[0]
    log = Path(first.rsplit("full log: ", 1)[1])
    assert str(log) == report["log_file"]
    text = log.read_text()
    assert "Setting up" in text, "apt's output is kept in the log"
    assert "infrakit: step=monitoring_units changed=1" in text
    assert log.stat().st_mode & 0o777 == 0o600


def test_the_json_covers_the_whole_run(cold: tuple[subprocess.CompletedProcess[str], dict[str, object]]) -> None:
    _, report = cold
    assert [p["phase"] for p in report["phases"]] == ["bootstrap", "converge"]  # type: ignore[index,union-attr]
    assert [(c["purpose"], c["outcome"]) for c in report["connections"]] == [  # type: ignore[index,union-attr]
        ("probe", "refused"),
        ("bootstrap", "ok"),
        ("converge", "ok"),
    ]
    steps = {s["name"]: s for s in report["steps"]}  # type: ignore[union-attr,index]
    assert steps["base_packages"]["changed"] is True, "changed in the bootstrap: changed in this run"


def test_the_printed_login_works(
    cli_host: CliHost, cold: tuple[subprocess.CompletedProcess[str], dict[str, object]]
) -> None:
    """The demo used to print three SSH commands of which only the last worked."""
    result, _ = cold
    logins = [line for line in result.stdout.splitlines() if " ssh " in line]
    assert len(logins) == 1, logins
    command = logins[0].split("log in: ", 1)[1]
    done = subprocess.run(
        [*command.split(), "-o", "BatchMode=yes", "true"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_a_second_apply_changes_nothing(cli_host: CliHost, cold: object) -> None:
    result = cli_host.apply()
    assert result.returncode == 0, result.stdout
    assert f"{PLAN_STEPS} steps, 0 changed, {PLAN_STEPS} unchanged" in result.stdout


def test_a_refused_apply_says_why_in_one_line(cli_host: CliHost, cold: object) -> None:
    """An apply from outside the admin CIDRs is refused before any step runs (the lock-out
    guard): one clear line, no step output. (A failing step's tail: tests/infrakit/apply/test_progress.py.)"""
    result = cli_host.infrakit(
        "apply", "lab", "--host", cli_host.host.address, "--admin-cidr", "192.0.2.0/24",
        "-i", str(cli_host.admin_key), "--known-hosts", str(cli_host.known_hosts),
    )  # fmt: skip
    assert result.returncode == 1
    assert "FAILED: lab" in result.stdout and "adminCidrs" in result.stdout
    assert "✓" not in result.stdout, "no step may run"


def test_verbose_streams_everything(cli_host: CliHost, cold: object) -> None:
    result = cli_host.apply("--verbose")
    assert result.returncode == 0
    assert "  [harden_ssh] infrakit: step=harden_ssh changed=0" in result.stdout


# -- day-2 commands on the converged host ---------------------------------------------------


def day2(
    cli_host: CliHost, command: str, *args: str, service: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    login = ["--host", cli_host.host.address, "-i", str(cli_host.admin_key), "--known-hosts", str(cli_host.known_hosts)]
    return cli_host.infrakit(command, "lab", *([service] if service else []), *login, *args, timeout=timeout)


def status_when_ready(cli_host: CliHost, *args: str) -> subprocess.CompletedProcess[str]:
    """The status server answers 503 until its first round of checks: wait for it (bounded)."""
    deadline = time.monotonic() + 90
    while True:
        result = day2(cli_host, "status", *args)
        if "is starting" not in result.stderr or time.monotonic() > deadline:
            return result
        time.sleep(1)


def test_status_of_a_healthy_host(cli_host: CliHost, cold: object) -> None:
    result = status_when_ready(cli_host)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"lab (none/host) on {HOST_NAME}: OK" in result.stdout
    for needle in ("checks", "services", "disks", "infrakit-status.service", "fail2ban", "last apply"):
        assert needle in result.stdout, needle
    doc = json.loads(status_when_ready(cli_host, "--json").stdout)
    assert doc["healthy"] is True


def test_logs_of_the_stack_services(cli_host: CliHost, cold: object) -> None:
    result = day2(cli_host, "logs", "-n", "30", service="status-server")
    assert result.returncode == 0, result.stderr
    assert "infrakit-status" in result.stdout or "status_server" in result.stdout, result.stdout
    every = day2(cli_host, "logs")
    assert every.returncode == 0 and every.stdout.count("\n") >= result.stdout.count("\n")


def test_logs_follow_keeps_streaming_until_interrupted(cli_host: CliHost, cold: object) -> None:
    login = ["--host", cli_host.host.address, "-i", str(cli_host.admin_key), "--known-hosts", str(cli_host.known_hosts)]
    argv = [sys.executable, "-m", "adapters", "logs", "lab", "status-server", *login, "-n", "5", "-f"]
    proc = subprocess.Popen(argv, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first, "no journal line arrived"
        time.sleep(2)
        assert proc.poll() is None, "--follow must keep running"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ssh_logs_in_with_the_pinned_key(cli_host: CliHost, cold: object) -> None:
    result = day2(cli_host, "ssh", "--", "id", "-un")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ops"


def test_ssh_refuses_a_changed_host_key(cli_host: CliHost, cold: object) -> None:
    forged = cli_host.tmp / "forged_known_hosts"
    other = (PROJECT_ROOT / "infrakit_lab" / "insecure_key" / "lab_admin_ed25519.pub").read_text().split()[:2]
    forged.write_text(f"{cli_host.host.address} {' '.join(other)}\n")
    result = cli_host.infrakit(
        "ssh",
        "lab",
        "--host",
        cli_host.host.address,
        "-i",
        str(cli_host.admin_key),
        "--known-hosts",
        str(forged),
        "--",
        "true",
    )
    assert result.returncode != 0
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.stderr or "verification failed" in result.stderr


def test_status_of_an_unhealthy_host_exits_1(cli_host: CliHost, cold: object) -> None:
    """fail2ban stopped: the status server's next round says CRIT, and so does the exit code."""
    assert day2(cli_host, "ssh", "--", "sudo", "-n", "systemctl", "stop", "fail2ban").returncode == 0
    try:
        assert day2(cli_host, "ssh", "--", "sudo", "-n", "systemctl", "restart", "infrakit-status").returncode == 0
        result = status_when_ready(cli_host)
        assert result.returncode == 1, result.stdout + result.stderr
        assert ": CRIT" in result.stdout
    finally:
        day2(cli_host, "ssh", "--", "sudo", "-n", "systemctl", "start", "fail2ban")
        day2(cli_host, "ssh", "--", "sudo", "-n", "systemctl", "restart", "infrakit-status")  # a fresh round


# -- the runbooks' command lines that make sense in the lab (tests/runbooks classifies them all) --


def runbook_argv(cli_host: CliHost, line: str) -> list[str]:
    """A runbook's `infrakit` line for the lab: STACK=lab, the lab's keys, and the overrides that
    point the `lab` stack at this host (documented: --host, --admin-cidr, --known-hosts)."""
    line = line.replace("~/.ssh/admin_key", str(cli_host.admin_key))
    line = line.replace("~/.ssh/root_key", str(cli_host.host.ssh_key_path))
    words = shlex.split(line.replace("STACK", "lab"))[1:]
    extra = ["--host", cli_host.host.address, "--known-hosts", str(cli_host.known_hosts)]
    if words[0] == "apply":
        extra += ["--admin-cidr", f"{cli_host.host.host_side_address}/32"]
    tail = ["--", "true"] if words[0] == "ssh" else []  # a login shell would wait for a terminal
    return [*words, *extra, *tail]


@pytest.mark.parametrize("line", sorted(ON_LAB_HOST_LOCAL))
def test_runbook_infrakit_lines_on_a_lab_host(cli_host: CliHost, cold: object, line: str) -> None:
    argv = runbook_argv(cli_host, line)
    if argv[0] == "status":
        status_when_ready(cli_host)  # the status server may be restarting after an earlier test
    result = cli_host.infrakit(*argv)
    assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("line", sorted(ON_LAB_HOST_REMOTE))
def test_runbook_host_lines_on_a_lab_host(cli_host: CliHost, cold: object, line: str) -> None:
    """Each line as the runbook writes it, in the admin user's shell on the host."""
    result = day2(cli_host, "ssh", "--", line)
    assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
    assert result.stdout.strip(), f"{line} printed nothing"
