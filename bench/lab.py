"""Cold converge and no-op re-apply on real lab hosts, through the e2e tests' own sessions.

The hardened host runs through `tests/e2e/conftest.py:lab_session` (the `lab` stack pointed
at the lab host, admin bootstrapped as root, then the full plan as the admin user); the
Ethereum validator through `tests/e2e/test_ethereum.py:eth_session` (stand-in clients served
from a local mirror, a TEST lock). Nothing here re-implements either: the benchmark only
reads their ApplyReports and applies the plan again.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from infrakit.apply.executor import ApplyReport

Say = Callable[[str], None]


class TmpFactory:
    """The one thing `lab_session` needs from pytest's tmp_path_factory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))


def report_dict(report: ApplyReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "total_seconds": report.total_seconds,
        "upload_seconds": report.upload_seconds,
        "ssh_sessions": report.ssh_sessions,
        "ssh_connections": 1,  # apply_plan opens exactly one Connection per call
        "bytes_uploaded": report.bytes_uploaded,
        "steps": {s.name: {"seconds": s.seconds, "changed": s.changed, "status": s.status} for s in report.steps},
        "changed": [s.name for s in report.steps if s.changed],
    }


def cold_run(bootstrap: ApplyReport, first: ApplyReport, boot_seconds: float) -> dict[str, Any]:
    """One cold converge: the bootstrap apply (as root) plus the first full apply (as admin)."""
    b, f = report_dict(bootstrap), report_dict(first)
    steps = {name: dict(s) for name, s in f["steps"].items()}
    for name, s in b["steps"].items():
        if s["status"] == "ok":  # the real work of base_packages/create_user happens here
            steps[name] = {**s, "seconds": s["seconds"] + steps.get(name, {}).get("seconds", 0.0)}
    return {
        "ok": b["ok"] and f["ok"],
        "boot_seconds": boot_seconds,
        "total_seconds": b["total_seconds"] + f["total_seconds"],
        "bootstrap_seconds": b["total_seconds"],
        "apply_seconds": f["total_seconds"],
        "ssh_connections": b["ssh_connections"] + f["ssh_connections"],
        "ssh_sessions": b["ssh_sessions"] + f["ssh_sessions"],
        "bytes_uploaded": b["bytes_uploaded"] + f["bytes_uploaded"],
        "steps": steps,
        "bootstrap": b,
        "apply": f,
    }


def _hardened_session(name: str, tmp: Path) -> AbstractContextManager[Any]:
    from tests.e2e.conftest import lab_session  # noqa: PLC0415 - test helpers only when the lab runs

    return lab_session(name, TmpFactory(tmp))  # type: ignore[arg-type]


def _eth_session(name: str, tmp: Path) -> AbstractContextManager[Any]:
    from tests.e2e.test_ethereum import eth_session  # noqa: PLC0415

    return eth_session(name, tmp)


PLANS: dict[str, tuple[Callable[[str, Path], AbstractContextManager[Any]], str, str]] = {
    # plan name -> (session, label of the bootstrap apply, label of the first full apply)
    "hardened": (_hardened_session, "bootstrap", "first"),
    "ethereum_validator": (_eth_session, "bootstrap", "phase1"),
}


def _reapply(env: Any, plan_name: str, label: str) -> ApplyReport:
    if plan_name == "hardened":
        return env.apply(label)
    from infrakit.plan import build_plan  # noqa: PLC0415

    return env.apply(label, build_plan(env.stack()))


def run_lab(plan_name: str, host_name: str, cold_runs: int, reapply_runs: int, say: Say) -> Iterator[dict[str, Any]]:
    """Yield one record per measurement: {"kind": "cold"|"noop", ...}. Each cold run boots a
    fresh host; the no-op re-applies are spread over the converged hosts (the last host
    takes the remainder), so every host is also proven idempotent."""
    session, boot_label, first_label = PLANS[plan_name]
    per_host = [reapply_runs // cold_runs + (1 if i < reapply_runs % cold_runs else 0) for i in range(cold_runs)]
    with tempfile.TemporaryDirectory(prefix=f"infrakit-bench-{plan_name}-") as tmp:
        for i in range(cold_runs):
            say(f"{plan_name}: cold converge {i + 1}/{cold_runs} on a fresh lab host {host_name}")
            start = time.monotonic()
            with session(host_name, Path(tmp)) as env:
                entered = time.monotonic() - start
                boot, first = env.reports[boot_label], env.reports[first_label]
                record = cold_run(boot, first, entered - boot.total_seconds - first.total_seconds)
                say(f"  cold: {record['total_seconds']:.1f} s (+ boot {record['boot_seconds']:.1f} s), "
                    f"{record['ssh_sessions']} sessions, {record['bytes_uploaded']} bytes")
                yield {"kind": "cold", **record}
                for j in range(per_host[i]):
                    report = _reapply(env, plan_name, f"noop{j}")
                    record = report_dict(report)
                    say(f"  no-op re-apply: {record['total_seconds']:.2f} s, changed: {record['changed'] or 'none'}")
                    yield {"kind": "noop", **record}
