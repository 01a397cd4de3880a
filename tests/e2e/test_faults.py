"""Faults a real operator meets: a held apt lock, a cut SSH connection, a failing step."""

from __future__ import annotations

import subprocess
import time

import pytest

from infrakit.plan import build_plan
from tests.e2e.conftest import Lab, guest_init_pid, lab_stack

pytestmark = pytest.mark.lab

HOLD_LOCK = """
import fcntl, sys, time
handles = [open(p, "a") for p in ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock")]
for h in handles:
    fcntl.lockf(h, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[1]))
"""


def test_held_apt_lock_is_waited_for(converged: Lab) -> None:
    """unattended-upgrades holds the dpkg lock on real servers; a step must wait, not fail."""
    converged.guest("apt-get", "remove", "-y", "-q", "jq", timeout=120)
    holder = subprocess.Popen(
        ["nsenter", "--target", str(_init(converged)), "--mount", "--pid", "--", "python3", "-c", HOLD_LOCK, "8"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout and holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        report = converged.apply("apt-lock", only={"base_packages"})
        waited = time.monotonic() - start
    finally:
        holder.wait(timeout=30)
    assert report.ok, "\n".join(converged.logs["apt-lock"][-20:])
    assert report.steps[0].changed is True
    assert waited >= 5, f"the step finished in {waited:.1f} s although the lock was held 8 s"
    assert converged.guest("dpkg-query", "-W", "-f=${Status}", "jq").stdout == "install ok installed"


def test_cut_connection_then_rerun_converges(converged: Lab) -> None:
    """Kill the SSH session in the middle of a step: the run says so; a re-run converges."""
    converged.guest("apt-get", "remove", "-y", "-q", "jq", timeout=120)
    killed = False

    def cut_when_step_talks(line: str) -> None:
        nonlocal killed
        if not killed and line.startswith("  [base_packages]"):
            killed = True
            converged.guest("pkill", "-KILL", "-f", "sshd: ops", check=False)

    report = converged.apply("cut", say=cut_when_step_talks)
    assert killed, "the test never saw base_packages output"
    assert not report.ok
    assert report.failed and report.failed.name == "base_packages" and report.failed.status == "cut"
    rerun = converged.apply("after-cut")
    assert rerun.ok, "\n".join(converged.logs["after-cut"][-30:])
    assert converged.guest("dpkg", "--audit").stdout.strip() == "", "dpkg left half-configured"
    again = converged.apply("after-cut-2")
    assert not [s.name for s in again.steps if s.changed], "after the re-run the host must be converged"


def test_failing_step_is_named_and_nothing_after_it_runs(converged: Lab) -> None:
    """A package apt cannot find fails the first step; nothing after it runs. (A firewall
    that would lock us out used to be this test's failure; it is now refused before any
    step: tests/e2e/test_recovery.py.)"""
    stack = lab_stack(converged.host, hardening={"extraPackages": ["infrakit-no-such-package"]})
    report = converged.apply("failing", plan=build_plan(stack))
    assert report.failed and report.failed.name == "base_packages" and report.failed.status == "failed"
    assert report.failed.exit_code not in (None, 0)
    assert [s.name for s in report.steps] == ["base_packages"], "no step may run after the failing one"
    errors = [line for line in converged.logs["failing"] if line.startswith("  [base_packages]") and "ERROR" in line]
    assert any("infrakit-no-such-package" in line for line in errors), converged.logs["failing"][-10:]
    # the host is still reachable and unchanged
    assert converged.apply("after-failing").ok


def _init(lab: Lab) -> int:
    return guest_init_pid(lab.host)
