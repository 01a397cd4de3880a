"""Apply a host plan over plain SSH: one connection, one upload, the steps in order.

This is the phase-1 repository control plane for operators without Pulumi, and the lane
the lab proves the scripts on. It stops at the first failing step, naming it and its exit
code, and reports per step whether it changed anything and how long it took.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Protocol

from infrakit.apply.ssh import Connection, SshError, Target
from infrakit.plan.bundle import (
    APPLIED_PREFIX,
    bundle_entries,
    install_command,
    list_applied_script,
    off_command,
    sha256,
    step_command,
    tarball,
)
from infrakit.plan.firewall import lockout_problem
from infrakit.plan.model import HostPlan, PlannedStep, Step

DONE_RE = re.compile(r"^infrakit: step=(?P<step>[a-z0-9_]+) changed=(?P<changed>[01])$")
APPLIED_RE = re.compile(rf"^{APPLIED_PREFIX}(?P<step>[a-z0-9_]+) (?P<hash>[0-9a-f]*)$")


@dataclass
class StepReport:
    name: str
    status: str  # ok | failed | skipped | cut
    changed: bool | None
    seconds: float
    exit_code: int | None = None


@dataclass
class ApplyReport:
    stack: str
    host: str
    bundle: str
    steps: list[StepReport] = field(default_factory=list)
    upload_seconds: float = 0.0
    total_seconds: float = 0.0
    ssh_sessions: int = 0
    bytes_uploaded: int = 0

    @property
    def ok(self) -> bool:
        return all(s.status in {"ok", "skipped"} for s in self.steps)

    @property
    def failed(self) -> StepReport | None:
        return next((s for s in self.steps if s.status in {"failed", "cut"}), None)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ok": self.ok}


class ApplyError(Exception):
    pass


Printer = Callable[[str], None]


def _default_printer(line: str) -> None:
    print(line, flush=True)


class StepEvents(Protocol):
    """What a progress display needs beside the text stream (`say`): where each step starts and ends."""

    def step_started(self, planned: PlannedStep) -> None: ...

    def step_finished(self, planned: PlannedStep, report: StepReport) -> None: ...


class NoEvents:
    def step_started(self, planned: PlannedStep) -> None:
        pass

    def step_finished(self, planned: PlannedStep, report: StepReport) -> None:
        pass


def remote_hashes(conn: Connection, sudo: bool) -> dict[str, str]:
    """The step hashes the host last applied successfully (written by run_step.sh)."""
    script = list_applied_script()
    applied: dict[str, str] = {}

    def keep(stream: str, line: str) -> None:
        match = APPLIED_RE.match(line) if stream == "stdout" else None
        if match:
            applied[match["step"]] = match["hash"]

    conn.run(f"sudo -n sh -c {shlex.quote(script)}" if sudo else script, on_line=keep)
    return applied


CLIENT_PREFIX = "infrakit-client-address: "


def preflight(conn: Connection, plan: HostPlan) -> None:
    """Refuse, before anything changes the host, a plan whose firewall would lock out the
    address this connection comes from (as the host sees it: SSH_CLIENT)."""
    seen: list[str] = []

    def keep(stream: str, line: str) -> None:
        if stream == "stdout" and line.startswith(CLIENT_PREFIX):
            seen.append(line.removeprefix(CLIENT_PREFIX).strip())

    conn.run(f"printf '{CLIENT_PREFIX}%s\\n' \"${{SSH_CLIENT%% *}}\"", on_line=keep)
    problem = lockout_problem(plan, seen[0] if seen else "")
    if problem:
        raise ApplyError(f"refused before the first step: {problem}")


def upload_bundle(conn: Connection, plan: HostPlan, sudo: bool, say: Printer,
                  list_applied: bool = False) -> tuple[str, dict[str, str]]:
    """Upload and install the bundle; with list_applied, in the same session, also read the
    step hashes the host last applied (what remote_hashes returns)."""
    data = tarball(bundle_entries(plan))
    digest = sha256(data)
    remote_tar = f"/tmp/infrakit-bundle-{digest[:16]}.tgz"
    conn.upload(data, remote_tar)
    applied: dict[str, str] = {}

    def on_line(stream: str, line: str) -> None:
        match = APPLIED_RE.match(line) if stream == "stdout" else None
        if match:
            applied[match["step"]] = match["hash"]
        else:
            say(f"  [bundle] {line}")

    result = conn.run(install_command(remote_tar, digest, sudo, list_applied=list_applied), on_line=on_line)
    if result.exit_code != 0:
        raise ApplyError(f"bundle install failed with exit code {result.exit_code}")
    return digest, applied


def run_step(conn: Connection, planned: PlannedStep, sudo: bool, secrets: Mapping[str, str], say: Printer,
             timeout: float) -> StepReport:
    step = planned.step
    stdin = "".join(f"{env}={secrets[key]}\n" for env, key in sorted(step.secrets.items()))
    changed: bool | None = None

    def on_line(stream: str, line: str) -> None:
        nonlocal changed
        match = DONE_RE.match(line)
        if match and match["step"] == step.name:
            changed = match["changed"] == "1"
        say(f"  [{step.name}] {line}")

    try:
        result = conn.run(step_command(planned, sudo), stdin=stdin, on_line=on_line, timeout=timeout)
    except SshError as exc:
        say(f"  [{step.name}]! connection: {exc}")
        return StepReport(step.name, "cut", None, 0.0, None)
    if result.exit_code == -1:
        return StepReport(step.name, "cut", None, result.seconds, None)
    if result.exit_code != 0:
        return StepReport(step.name, "failed", changed, result.seconds, result.exit_code)
    if changed is None:
        say(f"  [{step.name}]! finished without its 'infrakit: step={step.name} changed=' line")
        return StepReport(step.name, "failed", None, result.seconds, result.exit_code)
    return StepReport(step.name, "ok", changed, result.seconds, 0)


def off_view(step: str) -> PlannedStep:
    """How a progress display shows turning `step` off (it is no step of the plan)."""
    action = Step(name=step, script=f"shared/off/{step}.sh", description="off: not in the plan any more")
    return PlannedStep(index=-1, step=action, hash="", depends_on=())


def turn_off(conn: Connection, step: str, sudo: bool, say: Printer, timeout: float) -> StepReport:
    """Run the off action of a step the host recorded but the plan no longer has (the same
    runner Pulumi's Step.delete calls: shared/lib/run_off.sh)."""
    changed: bool | None = None

    def on_line(stream: str, line: str) -> None:
        nonlocal changed
        match = DONE_RE.match(line)
        if match and match["step"] == step:
            changed = match["changed"] == "1"
        say(f"  [{step} off] {line}")

    name = f"{step} (off)"
    try:
        result = conn.run(off_command(step, sudo), on_line=on_line, timeout=timeout)
    except SshError as exc:
        say(f"  [{step} off]! connection: {exc}")
        return StepReport(name, "cut", None, 0.0, None)
    if result.exit_code != 0 or changed is None:
        return StepReport(name, "failed", changed, result.seconds, result.exit_code)
    return StepReport(name, "ok", changed, result.seconds, 0)


def apply_plan(plan: HostPlan, target: Target, secrets: Mapping[str, str], *, changed_only: bool = False,
               only: set[str] | None = None, say: Printer = _default_printer,
               step_timeout: float = 3600.0, events: StepEvents | None = None) -> ApplyReport:
    """Converge the host at `target` with `plan`. Never raises for a failing step: see report.

    `say` gets every line (step output prefixed `  [step] `); `events` where steps start and end."""
    events = events or NoEvents()
    if plan.blockers:
        raise ApplyError("the plan cannot be applied yet:\n  " + "\n  ".join(plan.blockers))
    needed = {key for p in plan.steps for key in p.step.secrets.values()}
    missing = sorted(needed - set(secrets))
    if missing:
        raise ApplyError("secret(s) not set: " + ", ".join(f"{k} (env INFRAKIT_SECRET_{k.upper()})" for k in missing))
    start = time.monotonic()
    sudo = target.user != "root"
    with Connection(target) as conn:
        say(f"connected to {target.user}@{target.host}:{target.port}")
        preflight(conn, plan)
        t0 = time.monotonic()
        digest, applied = upload_bundle(conn, plan, sudo, say, list_applied=changed_only)
        report = ApplyReport(plan.stack, f"{target.user}@{target.host}", digest[:16],
                             upload_seconds=time.monotonic() - t0)
        for planned in plan.steps:
            name = planned.step.name
            if only and name not in only:
                continue  # not part of this run: not reported either
            if applied.get(name) == planned.hash:
                report.steps.append(StepReport(name, "skipped", False, 0.0))
                events.step_finished(planned, report.steps[-1])
                continue
            say(f"==> {name}: {planned.step.description}")
            events.step_started(planned)
            step_report = run_step(conn, planned, sudo, secrets, say, step_timeout)
            events.step_finished(planned, step_report)
            report.steps.append(step_report)
            if step_report.status != "ok":
                break
        if report.ok and not only:
            # Features turned off: steps the host recorded that the plan no longer has.
            recorded = applied if changed_only else remote_hashes(conn, sudo)
            planned_names = {p.step.name for p in plan.steps}
            for step in sorted(set(recorded) - planned_names, reverse=True):
                say(f"==> {step}: not in the plan any more, turning it off")
                shown = off_view(step)
                events.step_started(shown)
                off_report = turn_off(conn, step, sudo, say, step_timeout)
                events.step_finished(shown, off_report)
                report.steps.append(off_report)
                if off_report.status != "ok":
                    break
        report.ssh_sessions = conn.sessions
        report.bytes_uploaded = conn.bytes_uploaded
    report.total_seconds = time.monotonic() - start
    return report


def summary(report: ApplyReport) -> str:
    lines = [f"\n{'step':<24} {'result':<10} {'changed':<8} {'seconds':>8}"]
    for s in report.steps:
        changed = "-" if s.changed is None else ("yes" if s.changed else "no")
        lines.append(f"{s.name:<24} {s.status:<10} {changed:<8} {s.seconds:>8.2f}")
    n_changed = sum(1 for s in report.steps if s.changed)
    lines.append(f"bundle {report.bundle} uploaded in {report.upload_seconds:.2f} s; "
                 f"{len(report.steps)} steps, {n_changed} changed, total {report.total_seconds:.2f} s, "
                 f"{report.ssh_sessions} SSH sessions on 1 connection, {report.bytes_uploaded} bytes uploaded")
    failed = report.failed
    if failed:
        why = "connection cut" if failed.status == "cut" else f"exit code {failed.exit_code}"
        lines.append(f"FAILED at step {failed.name} ({why}); later steps did not run. Re-run to converge.")
    return "\n".join(lines)
