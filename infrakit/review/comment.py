"""The pull-request comment: what would change on each host, in Markdown, without secrets.

One comment for the render diff (marker `<!-- infrakit:render-diff -->`, so a workflow updates
it instead of adding another). Each distinct file diff is shown once with the stacks it applies
to (a template shared by six stacks is one diff, not six). GitHub refuses comments over 65,536
characters: the summary is shortened first (causes, then file lists), then diffs are left out,
each named.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from infrakit.review.diff import StackDiff

MARKER = "<!-- infrakit:render-diff -->"
MAX_CHARS = 60_000
REDACTED = "[redacted]"
MAX_CAUSES = 6
MAX_LISTED_FILES = 12


def redact(text: str, secrets: Iterable[str]) -> str:
    """Every occurrence of a known secret value replaced (longest first, values of 4+ chars)."""
    for value in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _fence(body: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", body)), default=2)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}diff\n{body.rstrip()}\n{ticks}\n"


def _listing(paths: list[str], detail: int) -> str:
    if detail < 1 or len(paths) > MAX_LISTED_FILES * (2 if detail > 1 else 1):
        shown = paths[:MAX_LISTED_FILES] if detail >= 1 else []
        rest = len(paths) - len(shown)
        return ", ".join(_code(p) for p in shown) + (f" and {rest} more" if rest else "")
    return ", ".join(_code(p) for p in paths)


def _stack_section(d: StackDiff, detail: int) -> list[str]:
    """detail 2: everything; 1: causes shortened; 0: names and counts only."""
    out = [f"### {_code(d.stack)}: {d.status}", "", f"Host: {d.host or '?'}", ""]
    out += [f"- :x: {e}" for e in d.errors]
    out += [f"- {n}" for n in d.notes]
    if d.engine:
        out += ["Engine preview (`pulumi preview` in the checkout):", *[f"- {line}" for line in d.engine]]
    if d.steps_replaced:
        out.append(
            "Steps replaced (hash changed: the engine updates these Step resources, which re-runs exactly "
            "these on the host):"
        )
        for s in d.steps_replaced:
            line = f"- {_code(s.name)} `{s.old_hash[:12]}` -> `{s.new_hash[:12]}`"
            if detail > 0:
                causes = s.causes if detail > 1 else s.causes[:MAX_CAUSES]
                more = len(s.causes) - len(causes)
                line += f": {', '.join(causes)}" + (f" and {more} more" if more else "")
            out.append(line)
    if d.steps_added:
        out.append("Steps added: " + ", ".join(_code(s) for s in d.steps_added))
    if d.steps_removed:
        out.append(
            "Steps removed (nothing runs them again; what they installed stays): "
            + ", ".join(_code(s) for s in d.steps_removed)
        )
    if d.ports_opened:
        out.append("Ports added: " + ", ".join(_code(p) for p in d.ports_opened))
    if d.ports_closed:
        out.append("Ports removed: " + ", ".join(_code(p) for p in d.ports_closed))
    out += [f"- blocker added: {b}" for b in d.blockers_added]
    out += [f"- blocker resolved: {b}" for b in d.blockers_removed]
    if d.files_added or d.files_removed or d.files_changed:
        out.append("The bundle (the scripts and files above) is uploaded to the host again.")
    for title, paths in (("added", d.files_added), ("removed", d.files_removed), ("changed", d.files_changed)):
        if paths:
            out.append(f"Files {title} ({len(paths)}): {_listing(paths, detail)}")
    out.append("")
    return out


def _summary(diffs: list[StackDiff], base: str, head: str, detail: int) -> list[str]:
    affected = [d for d in diffs if d.affected]
    lines = [
        MARKER,
        f"## InfraKit render diff `{base[:12]}` -> `{head[:12]}`",
        "",
        "What `infrakit render` produces for each stack at the base and at the head of this pull request: "
        "the exact scripts, units and config files that would change on each host.",
        "",
    ]
    if not affected:
        return [*lines, f"No stack's render changes ({len(diffs)} stacks compared).", ""]
    lines += ["| stack | host | status | steps replaced | files changed |", "| --- | --- | --- | ---: | ---: |"]
    for d in affected:
        n_files = len(d.files_added) + len(d.files_removed) + len(d.files_changed)
        lines.append(f"| {_code(d.stack)} | {d.host} | {d.status} | {len(d.steps_replaced)} | {n_files} |")
    unchanged = [d.stack for d in diffs if not d.affected]
    if unchanged:
        lines += ["", "Unchanged: " + ", ".join(_code(s) for s in unchanged)]
    lines.append("")
    for d in affected:
        lines += _stack_section(d, detail)
    return lines


def render_comment(
    diffs: list[StackDiff], base: str, head: str, secrets: Iterable[str] = (), max_chars: int = MAX_CHARS
) -> str:
    """The whole comment. `base`/`head` are commit ids; `secrets` are values never to show."""
    secret_list = list(secrets)
    for detail in (2, 1, 0):
        summary = redact("\n".join(_summary(diffs, base, head, detail)), secret_list)
        if len(summary) < max_chars * 0.6:
            break
    # One block per distinct change (same hunks), naming the files and stacks it applies to:
    # a library file copied into several steps of six stacks is shown once.
    grouped: dict[str, tuple[str, list[str], list[str]]] = {}
    for d in diffs:
        if not d.affected:
            continue
        for path, text in d.diffs.items():
            key = "".join(ln for ln in text.splitlines(keepends=True) if not ln.startswith(("--- ", "+++ ")))
            _, paths, stacks = grouped.setdefault(key, (text, [], []))
            if path not in paths:
                paths.append(path)
            if d.stack not in stacks:
                stacks.append(d.stack)
    budget = max_chars - len(summary) - 2500  # room for the list of diffs left out
    blocks: list[str] = []
    left_out: list[str] = []
    n_affected = sum(1 for d in diffs if d.affected)
    for text, paths, stacks in grouped.values():
        where = "every affected stack" if len(stacks) == n_affected and n_affected > 1 else ", ".join(stacks)
        also = f"; also {', '.join(paths[1:])}" if len(paths) > 1 else ""
        title = f"{paths[0]} ({where}{also})"
        block = f"<details><summary>{title}</summary>\n\n{_fence(redact(text, secret_list))}\n</details>\n"
        if len(block) <= budget:
            blocks.append(block)
            budget -= len(block)
        else:
            left_out.append(paths[0])
    tail = ""
    if left_out:
        shown = ", ".join(_code(p) for p in left_out[:30])
        more = f" and {len(left_out) - 30} more" if len(left_out) > 30 else ""
        tail = f"\nDiffs left out (comment size limit; run `infrakit preview-comment` locally): {shown}{more}\n"
    return summary + "\n" + "".join(blocks) + tail
