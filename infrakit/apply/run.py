"""One `infrakit apply` run as it happened: its phases (bootstrap as the first user, then the
converge as the admin user), every SSH connection it opened, and one summary of the whole.

A step that changed during the bootstrap and was then found unchanged by the converge
changed in this run: the summary says so (it used to say "no").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infrakit.apply.executor import ApplyReport  # paramiko: only when apply runs


@dataclass
class ConnectionRecord:
    purpose: str  # probe (does the admin login work?) | bootstrap | converge
    target: str  # user@host:port
    outcome: str  # ok | refused | error
    detail: str = ""
    ssh_sessions: int = 0
    bytes_uploaded: int = 0


@dataclass
class Phase:
    name: str  # bootstrap | converge
    report: ApplyReport


@dataclass
class MergedStep:
    name: str
    status: str  # of the last phase that reported the step
    changed: bool | None  # True if any phase changed it
    seconds: float  # all phases together
    phases: list[str]  # the phases that ran it (not those that found it applied)
    exit_code: int | None = None


@dataclass
class RunReport:
    stack: str
    log_file: str
    phases: list[Phase] = field(default_factory=list)
    connections: list[ConnectionRecord] = field(default_factory=list)
    total_seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and bool(self.phases)
            and self.phases[-1].name == "converge"
            and all(p.report.ok for p in self.phases)
        )

    def steps(self) -> list[MergedStep]:
        merged: dict[str, MergedStep] = {}
        for phase in self.phases:
            for s in phase.report.steps:
                m = merged.setdefault(s.name, MergedStep(s.name, s.status, s.changed, 0.0, []))
                m.status, m.exit_code = s.status, s.exit_code
                m.seconds += s.seconds
                if s.changed:
                    m.changed = True
                elif m.changed is None:
                    m.changed = s.changed
                if s.status != "skipped":
                    m.phases.append(phase.name)
        return list(merged.values())

    def failed(self) -> MergedStep | None:
        return next((s for s in self.steps() if s.status in {"failed", "cut"}), None)

    def as_dict(self) -> dict[str, object]:
        return {
            "stack": self.stack,
            "ok": self.ok,
            "error": self.error,
            "total_seconds": self.total_seconds,
            "log_file": self.log_file,
            "steps": [asdict(s) for s in self.steps()],
            "phases": [{"phase": p.name, **p.report.as_dict()} for p in self.phases],
            "connections": [asdict(c) for c in self.connections],
        }

    def summary_line(self) -> str:
        steps = self.steps()
        changed = [s for s in steps if s.changed]
        in_bootstrap = [s for s in changed if "bootstrap" in s.phases]
        uploaded = sum(c.bytes_uploaded for c in self.connections)
        sessions = sum(c.ssh_sessions for c in self.connections)
        facts = (
            f"{len(steps)} steps, {len(changed)} changed"
            + (f" ({len(in_bootstrap)} during the bootstrap)" if in_bootstrap else "")
            + f", {len(steps) - len(changed)} unchanged in {self.total_seconds:.1f} s; "
            f"{len(self.connections)} SSH connection{'s' if len(self.connections) != 1 else ''}, "
            f"{sessions} sessions, {uploaded / 1000:.0f} kB uploaded"
        )
        if self.ok:
            return f"ok: {self.stack} converged: {facts}"
        failed = self.failed()
        if failed:
            why = "connection cut" if failed.status == "cut" else f"exit code {failed.exit_code}"
            return (
                f"FAILED: {self.stack} at step {failed.name} ({why}); later steps did not run. "
                f"Re-run to converge. Log: {self.log_file}"
            )
        return f"FAILED: {self.stack}: {self.error or 'did not converge'}. Log: {self.log_file}"
