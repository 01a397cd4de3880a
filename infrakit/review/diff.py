"""What differs between two renders of one stack: files, steps replaced, ports, blockers.

A step is replaced when its hash changed: its script, the library code it sources, its
parameters or its files changed, so `pulumi up` re-runs it on the host (and only it).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infrakit.review.render import Rendered

# Written by every render (names the plan hash); what changed is reported from the files.
IGNORED = {".infrakit-render"}
MAX_DIFF_LINES = 400


@dataclass
class StepChange:
    name: str
    old_hash: str
    new_hash: str
    causes: list[str] = field(default_factory=list)


@dataclass
class StackDiff:
    stack: str
    host: str
    status: str  # changed | unchanged | added | removed | error | program changed
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_added: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    steps_replaced: list[StepChange] = field(default_factory=list)
    steps_added: list[str] = field(default_factory=list)
    steps_removed: list[str] = field(default_factory=list)
    ports_opened: list[str] = field(default_factory=list)
    ports_closed: list[str] = field(default_factory=list)
    blockers_added: list[str] = field(default_factory=list)
    blockers_removed: list[str] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)
    engine: list[str] = field(default_factory=list)  # the engine preview's lines (--engine-preview)

    @property
    def affected(self) -> bool:
        return self.status != "unchanged"


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in IGNORED
    }


def _steps(files: dict[str, bytes]) -> dict[str, str]:
    return {
        path.split("/")[1]: data.decode().strip()
        for path, data in files.items()
        if path.startswith("steps/") and path.count("/") == 2 and path.endswith("/hash")
    }


def _plan(files: dict[str, bytes]) -> dict[str, Any]:
    try:
        doc = json.loads(files.get("plan.json", b"{}"))
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _ports(plan: dict[str, Any]) -> set[str]:
    out = set()
    for port in plan.get("ports") or []:
        if isinstance(port, dict):
            where = "public" if port.get("exposure") == "public" else "private"
            out.add(f"{port.get('port')}/{port.get('protocol')} {port.get('purpose', '')} ({where})".strip())
    return out


def unified(path: str, old: bytes | None, new: bytes | None) -> str:
    """A unified diff of one file (text), or a line saying a binary file changed."""
    try:
        old_text = old.decode() if old is not None else ""
        new_text = new.decode() if new is not None else ""
    except UnicodeDecodeError:
        return f"binary file {path} changed\n"
    lines = list(
        difflib.unified_diff(
            old_text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"a/{path}" if old is not None else "/dev/null",
            tofile=f"b/{path}" if new is not None else "/dev/null",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more diff lines\n"]
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _step_causes(name: str, changed: set[str], plan: dict[str, Any]) -> list[str]:
    causes = sorted(p for p in changed if p.startswith(f"steps/{name}/") and p != f"steps/{name}/hash")
    for entry in plan.get("steps") or []:
        step = entry.get("step", {}) if isinstance(entry, dict) else {}
        if step.get("name") == name and step.get("script") in changed:
            causes.append(step["script"])
    return causes or ["the shared library its script sources"]


def compare(base: Rendered | None, head: Rendered | None) -> StackDiff:
    """The difference of one stack between base and head (either may be absent or failed)."""
    ref = head or base
    assert ref is not None
    diff = StackDiff(ref.stack, (head.host if head else "") or (base.host if base else ""), "unchanged")
    for label, side in (("base", base), ("head", head)):
        if side is not None and side.out is None:
            diff.errors.append(f"render at {label} failed: {side.error}")
    if diff.errors:
        diff.status = "error"
        return diff
    old = _files(base.out) if base is not None and base.out is not None else {}
    new = _files(head.out) if head is not None and head.out is not None else {}
    diff.files_added = sorted(set(new) - set(old))
    diff.files_removed = sorted(set(old) - set(new))
    diff.files_changed = sorted(p for p in set(old) & set(new) if old[p] != new[p])
    changed = set(diff.files_added) | set(diff.files_removed) | set(diff.files_changed)
    old_steps, new_steps = _steps(old), _steps(new)
    new_plan, old_plan = _plan(new), _plan(old)
    diff.steps_added = sorted(set(new_steps) - set(old_steps))
    diff.steps_removed = sorted(set(old_steps) - set(new_steps))
    diff.steps_replaced = [
        StepChange(n, old_steps[n], new_steps[n], _step_causes(n, changed, new_plan))
        for n in sorted(set(old_steps) & set(new_steps))
        if old_steps[n] != new_steps[n]
    ]
    diff.ports_opened = sorted(_ports(new_plan) - _ports(old_plan))
    diff.ports_closed = sorted(_ports(old_plan) - _ports(new_plan))
    diff.blockers_added = sorted(set(new_plan.get("blockers") or []) - set(old_plan.get("blockers") or []))
    diff.blockers_removed = sorted(set(old_plan.get("blockers") or []) - set(new_plan.get("blockers") or []))
    for path in sorted(changed):
        if path == "plan.json" or path.endswith("/hash"):
            continue  # summarised as steps, ports and blockers above
        diff.diffs[path] = unified(path, old.get(path), new.get(path))
    if base is None:
        diff.status = "added"
    elif head is None:
        diff.status = "removed"
    elif changed:
        diff.status = "changed"
    return diff
