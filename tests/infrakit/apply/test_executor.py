"""The plain-SSH executor's refusals and parsing, without a host (the lab tests run it for real)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from adapters.registry import REGISTRY
from infrakit.apply import executor
from infrakit.apply.cli import parse_host
from infrakit.apply.executor import APPLIED_RE, DONE_RE, ApplyError, apply_plan
from infrakit.apply.ssh import Result, Target
from infrakit.config import RawConfig, load, load_stack
from infrakit.plan import build_plan
from infrakit.plan.bundle import APPLIED_PREFIX, STATE_DIR, install_command, list_applied_script
from infrakit.plan.firewall import lockout_problem
from tests.conftest import StackFactory

NOWHERE = Target("192.0.2.1", "ops")  # TEST-NET-1: never contacted, refusals come first


def test_a_blocked_plan_is_refused_before_connecting() -> None:
    plan = build_plan(load_stack("lab", REGISTRY)).model_copy(update={"blockers": ("artifact x is not locked",)})
    with pytest.raises(ApplyError, match="cannot be applied yet:\n  artifact x is not locked"):
        apply_plan(plan, NOWHERE, {})


def test_missing_secret_is_refused_before_connecting(stack_values: StackFactory) -> None:
    plan = build_plan(load(RawConfig("s", stack_values(), frozenset({"alertWebhookUrl"})), REGISTRY))
    with pytest.raises(ApplyError, match="INFRAKIT_SECRET_ALERTWEBHOOKURL"):
        apply_plan(plan, NOWHERE, {})


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("10.0.0.5", ("10.0.0.5", "ops", 22)),
        ("root@10.0.0.5", ("10.0.0.5", "root", 22)),
        ("admin@host.example:2222", ("host.example", "admin", 2222)),
        ("2001:db8::5", ("2001:db8::5", "ops", 22)),
    ],
)
def test_parse_host(spec: str, expected: tuple[str, str, int]) -> None:
    assert parse_host(spec, "ops", 22) == expected


def test_done_line_is_strict() -> None:
    """Only the exact closing line counts; a script echoing something similar must not."""
    assert DONE_RE.match("infrakit: step=harden_ssh changed=1")
    assert not DONE_RE.match("infrakit: step=harden_ssh changed=yes")
    assert not DONE_RE.match("  infrakit: step=harden_ssh changed=0")


def test_applied_hashes_listed_with_the_bundle_install(tmp_path: Path) -> None:
    """`--changed-only` reads the recorded step hashes in the bundle-install session: the
    listing parses back to exactly the files run_step.sh wrote (none: nothing)."""
    script = list_applied_script().replace(STATE_DIR, str(tmp_path))
    run = lambda: subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout  # noqa: E731
    assert run() == ""
    (tmp_path / "harden_ssh.hash").write_text("ab" * 16 + "\n")
    (tmp_path / "sysctl.hash").write_text("cd" * 16)  # no trailing newline
    (tmp_path / "last-apply").write_text("2026-01-01T00:00:00Z step=sysctl\n")
    parsed = dict(m.group("step", "hash") for line in run().splitlines() if (m := APPLIED_RE.match(line)))
    assert parsed == {"harden_ssh": "ab" * 16, "sysctl": "cd" * 16}
    assert APPLIED_PREFIX in install_command("/tmp/b.tgz", "ab" * 32, sudo=True, list_applied=True)
    assert APPLIED_PREFIX not in install_command("/tmp/b.tgz", "ab" * 32, sudo=True), "Pulumi's command unchanged"


class FakeConnection:
    """Stands in for ssh.Connection: the host sees the connection coming from `client`;
    records every command, and fails the test if anything but the preflight runs."""

    def __init__(self, client: str) -> None:
        self.client = client
        self.commands: list[str] = []

    def __call__(self, target: Target) -> FakeConnection:
        return self

    def __enter__(self) -> FakeConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass

    def run(self, command: str, stdin: str = "", on_line: Any = None, timeout: float = 0.0) -> Result:
        self.commands.append(command)
        assert "SSH_CLIENT" in command, f"ran {command!r} before the lock-out preflight refused"
        if on_line:
            on_line("stdout", f"infrakit-client-address: {self.client}")
        return Result(0, 0.0, "")

    def upload(self, data: bytes, remote_path: str) -> None:
        raise AssertionError("uploaded before the lock-out preflight refused")


@pytest.mark.parametrize("client", ["192.0.2.77", "::ffff:192.0.2.77", "2001:db8:1::5"])
def test_a_plan_that_would_lock_the_operator_out_is_refused_before_any_step(
    stack_values: StackFactory, monkeypatch: pytest.MonkeyPatch, client: str
) -> None:
    """On a fresh host the sshd and sysctl steps ran before the firewall step's own guard
    refused the rule set: the host was half changed. The preflight refuses first."""
    plan = build_plan(load(RawConfig("s", stack_values()), REGISTRY))
    fake = FakeConnection(client)
    monkeypatch.setattr(executor, "Connection", fake)
    with pytest.raises(
        ApplyError, match=r"refused before the first step: this apply comes from (192\.0\.2\.77|2001:db8)"
    ):
        apply_plan(plan, NOWHERE, {})
    assert len(fake.commands) == 1


@pytest.mark.parametrize("client", ["198.51.100.9", "::ffff:198.51.100.9", "2001:db8:42::9"])
def test_an_operator_inside_the_admin_cidrs_passes_the_preflight(stack_values: StackFactory, client: str) -> None:
    plan = build_plan(load(RawConfig("s", stack_values()), REGISTRY))
    assert lockout_problem(plan, client) is None
    assert lockout_problem(plan, "") is None, "no address reported: the step's own guard decides"
    assert "not an IP address" in (lockout_problem(plan, "nonsense") or "")


class FakeHost:
    """A host that accepts everything: records commands; the host recorded `recorded` steps."""

    sessions = 0
    bytes_uploaded = 0

    def __init__(self, recorded: list[str]) -> None:
        self.recorded = recorded
        self.commands: list[str] = []

    def __call__(self, target: Target) -> FakeHost:
        return self

    def __enter__(self) -> FakeHost:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass

    def upload(self, data: bytes, remote_path: str) -> None:
        pass

    def run(self, command: str, stdin: str = "", on_line: Any = None, timeout: float = 0.0) -> Result:
        self.commands.append(command)
        emit = on_line or (lambda stream, line: None)
        if "SSH_CLIENT" in command and "printf" in command:
            emit("stdout", "infrakit-client-address: 198.51.100.9")
        elif APPLIED_PREFIX in command and "sha256sum" not in command:
            for step in self.recorded:
                emit("stdout", f"{APPLIED_PREFIX}{step} {'ab' * 32}")
        elif "run_step.sh " in command or "run_off.sh " in command:
            step = command.split(".sh ", 1)[1].split(maxsplit=1)[0]
            emit("stdout", f"infrakit: step={step} changed={1 if 'run_off' in command else 0}")
        return Result(0, 0.0, "")


def test_apply_turns_off_the_steps_the_host_has_and_the_plan_dropped(
    stack_values: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fail2ban turned off in the stack: the host still records it, so `infrakit apply` runs
    its off action (shared/lib/run_off.sh, as Pulumi's Step.delete does) after the plan."""
    plan = build_plan(load(RawConfig("s", stack_values(hardening={"fail2ban": {"enabled": False}})), REGISTRY))
    fake = FakeHost(["base_packages", "fail2ban", "harden_ssh"])
    monkeypatch.setattr(executor, "Connection", fake)
    report = apply_plan(plan, NOWHERE, {})
    assert report.ok, report
    offs = [c for c in fake.commands if "run_off.sh" in c]
    assert offs == ["sudo -n bash /var/lib/infrakit/bundle/shared/lib/run_off.sh fail2ban"]
    assert report.steps[-1].name == "fail2ban (off)" and report.steps[-1].changed
    # a partial run (--step) never turns anything off
    fake.commands.clear()
    apply_plan(plan, NOWHERE, {}, only={"harden_ssh"})
    assert not [c for c in fake.commands if "run_off.sh" in c]
