"""The apply's terminal view: one line per step, all of it in the log, a failing step's tail in full."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from adapters.registry import REGISTRY
from infrakit.apply.executor import StepReport
from infrakit.apply.progress import TAIL_LINES, Presenter, new_log_path, open_log
from infrakit.config import load_stack
from infrakit.plan import build_plan

PLAN = build_plan(load_stack("lab", REGISTRY))
FIRST, SECOND = PLAN.steps[0], PLAN.steps[1]


def run_two_steps(
    tmp_path: Path, *, verbose: bool = False, terminal: bool = False, fail_second: bool = False
) -> tuple[str, str]:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=terminal, width=80, color_system=None)
    log_path = tmp_path / "apply.log"
    with open_log(log_path) as log, Presenter(console, log, verbose=verbose) as view:
        view.note("apply lab")
        for planned, status in ((FIRST, "ok"), (SECOND, "failed" if fail_second else "ok")):
            view.say(f"==> {planned.step.name}")
            view.step_started(planned)
            for i in range(60):
                view.say(f"  [{planned.step.name}] apt line {i} " + "x" * 100)
            view.step_finished(
                planned, StepReport(planned.step.name, status, status == "ok", 1.25, 0 if status == "ok" else 100)
            )
    return screen.getvalue(), log_path.read_text()


def test_quiet_by_default_everything_in_the_log(tmp_path: Path) -> None:
    shown, logged = run_two_steps(tmp_path)
    lines = shown.splitlines()
    assert len(lines) == 3, shown
    assert lines[1].startswith(f"✓ {FIRST.step.name}") and "changed" in lines[1] and "1.2s" in lines[1]
    assert "apt line" not in shown
    assert logged.count("apt line") == 120, "the log keeps every line"
    assert (tmp_path / "apply.log").stat().st_mode & 0o777 == 0o600


def test_a_failing_step_shows_its_tail_in_full(tmp_path: Path) -> None:
    shown, _ = run_two_steps(tmp_path, fail_second=True)
    assert f"✗ {SECOND.step.name}" in shown and "FAILED (100)" in shown
    assert f"--- last {TAIL_LINES} lines of {SECOND.step.name}" in shown
    assert f"apt line 59 {'x' * 100}" in shown.replace("\n", ""), "tail lines are not cropped"
    assert "apt line 19 " not in shown and "apt line 20 " in shown


def test_verbose_streams_everything(tmp_path: Path) -> None:
    shown, _ = run_two_steps(tmp_path, verbose=True)
    assert shown.count("apt line") == 120


def test_on_a_terminal_the_live_line_goes_and_the_result_stays(tmp_path: Path) -> None:
    shown, _ = run_two_steps(tmp_path, terminal=True)
    assert f"{FIRST.step.name}" in shown and "unchanged" not in shown
    assert "apt line" not in shown


def test_log_names_are_new_per_run(tmp_path: Path) -> None:
    first = new_log_path(tmp_path, "lab")
    open_log(first).close()
    second = new_log_path(tmp_path, "lab")
    assert second != first and second.name.startswith("apply-lab-")
