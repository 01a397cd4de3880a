"""How `infrakit apply` shows a run on the terminal, and the log file that keeps all of it.

By default one line per step (on a TTY a live line with the elapsed time while it runs,
then the result); with `verbose`, every line the host prints, as it comes. Either way the
full output goes to a log file (mode 0600), and a failing step's last lines are shown in
full. Colours and live updates only on a terminal (rich decides; NO_COLOR is honoured).
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from infrakit.apply.executor import StepReport
from infrakit.plan.model import PlannedStep

TAIL_LINES = 40  # a failing step's last lines, shown in full
NAME_WIDTH = 22


def new_log_path(logs_dir: Path, stack: str) -> Path:
    """`logs_dir/apply-STACK-<UTC time>.log`, a new file for each run."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = logs_dir / f"apply-{stack}-{stamp}.log"
    n = 1
    while path.exists():
        n += 1
        path = logs_dir / f"apply-{stack}-{stamp}-{n}.log"
    return path


def open_log(path: Path) -> TextIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=False)
    return path.open("a", encoding="utf-8", buffering=1)


def result_text(report: StepReport) -> tuple[str, str, str]:
    """(mark, result word, style) of a finished step."""
    if report.status == "ok":
        return ("✓", "changed", "yellow") if report.changed else ("✓", "unchanged", "green")
    if report.status == "skipped":
        return "·", "applied", "dim"
    if report.status == "cut":
        return "✗", "CUT", "bold red"
    return "✗", f"FAILED ({report.exit_code})" if report.exit_code is not None else "FAILED", "bold red"


def step_line(name: str, description: str, report: StepReport) -> Text:
    mark, word, style = result_text(report)
    return Text.assemble(
        (mark, style),
        " ",
        f"{name:<{NAME_WIDTH}}",
        " ",
        (f"{word:<11}", style),
        f"{report.seconds:>6.1f}s  ",
        (description, "dim"),
    )


class Presenter:
    """The apply's view: `say` is the executor's text stream, step_started/finished its events."""

    def __init__(self, console: Console, log: TextIO, *, verbose: bool = False) -> None:
        self.console = console
        self.log = log
        self.verbose = verbose
        self.lines_shown = 0
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._section = "connection"
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    # -- context: the live display exists only on a terminal and only while applying ----------
    def __enter__(self) -> Presenter:
        if self.console.is_terminal and not self.verbose:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # -- output ----------------------------------------------------------------------------
    def _print(self, text: Text | str, *, full: bool = False) -> None:
        """One line for the operator: cropped to the width unless `full` (then wrapped)."""
        if isinstance(text, str):
            text = Text(text)
        if full:
            self.console.print(text, soft_wrap=True, markup=False, highlight=False)
        else:
            self.console.print(text, no_wrap=True, overflow="ellipsis", markup=False, highlight=False)
        self.lines_shown += 1

    def note(self, text: str) -> None:
        """A message of the CLI itself: always shown, always logged."""
        self.log.write(text + "\n")
        self._print(text, full=True)

    def say(self, line: str) -> None:
        """A line of the executor (host output, step headers): logged; shown only when verbose."""
        self.log.write(line + "\n")
        self._tail.append(line)
        if self.verbose:
            self._print(line, full=True)

    def section(self, name: str) -> None:
        """Lines from here on belong to `name` (e.g. the bundle upload), for the failure tail."""
        self._section = name
        self._tail.clear()

    def step_started(self, planned: PlannedStep) -> None:
        self.section(planned.step.name)
        if self._progress is not None:
            label = f"{planned.step.name:<{NAME_WIDTH}} [dim]{planned.step.description}[/dim]"
            self._task = self._progress.add_task(label, total=None)

    def step_finished(self, planned: PlannedStep, report: StepReport) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None
        if not self.verbose:
            self._print(step_line(planned.step.name, planned.step.description, report))
        if report.status in {"failed", "cut"}:
            self.show_tail()

    def show_tail(self) -> None:
        """The last lines of the current section (a failing step, the bundle install), in full."""
        if self.verbose or not self._tail:
            return
        self._print(f"--- last {len(self._tail)} lines of {self._section} (full log: {self.log.name}) ---", full=True)
        for line in self._tail:
            self._print(line, full=True)
        self._print("---", full=True)
