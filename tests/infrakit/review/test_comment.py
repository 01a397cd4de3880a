"""The comment's shape on synthetic renders: diff, grouping, size limit, redaction."""

from __future__ import annotations

from pathlib import Path

from infrakit.review.comment import MARKER, redact, render_comment
from infrakit.review.diff import compare
from infrakit.review.render import Rendered


def _render(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


BASE = {
    "steps/a/hash": "1" * 64,
    "steps/a/files/a.conf": "x = 1\n",
    "steps/b/hash": "2" * 64,
    "shared/lib/core.sh": "echo hi\n",
    "plan.json": '{"ports": [{"port": 22, "protocol": "tcp", "exposure": "public", "purpose": "ssh"}], "steps": []}',
    ".infrakit-render": "plan 1\n",
}


def test_compare_reports_files_steps_and_ports(tmp_path: Path) -> None:
    head = {
        **BASE,
        "steps/a/hash": "3" * 64,
        "steps/a/files/a.conf": "x = 2\n",
        "steps/c/hash": "4" * 64,
        ".infrakit-render": "plan 2\n",
        "plan.json": '{"ports": [{"port": 443, "protocol": "tcp", "exposure": "public", "purpose": "https"}]}',
    }
    del head["steps/b/hash"]
    old = Rendered("s", _render(tmp_path / "old", BASE), host="existing host 192.0.2.1")
    new = Rendered("s", _render(tmp_path / "new", head), host="existing host 192.0.2.1")
    d = compare(old, new)
    assert d.status == "changed"
    assert [s.name for s in d.steps_replaced] == ["a"] and d.steps_replaced[0].causes == ["steps/a/files/a.conf"]
    assert d.steps_added == ["c"] and d.steps_removed == ["b"]
    assert d.ports_opened == ["443/tcp https (public)"] and d.ports_closed == ["22/tcp ssh (public)"]
    assert ".infrakit-render" not in d.files_changed
    assert "-x = 1" in d.diffs["steps/a/files/a.conf"] and "+x = 2" in d.diffs["steps/a/files/a.conf"]
    assert compare(old, old).status == "unchanged"
    assert compare(None, new).status == "added" and compare(old, None).status == "removed"
    failed = compare(old, Rendered("s", None, "stack 's': infrakit:role: unknown"))
    assert failed.status == "error" and "render at head failed" in failed.errors[0]


def test_identical_changes_are_shown_once_and_the_size_limit_holds(tmp_path: Path) -> None:
    diffs = []
    for i in range(6):
        big = {**BASE, "shared/lib/core.sh": "".join(f"echo {n}\n" for n in range(1500))}
        old = Rendered(f"s{i}", _render(tmp_path / f"o{i}", BASE), host=f"h{i}")
        new = Rendered(f"s{i}", _render(tmp_path / f"n{i}", big), host=f"h{i}")
        diffs.append(compare(old, new))
    text = render_comment(diffs, "a" * 40, "b" * 40, max_chars=20_000)
    assert text.startswith(MARKER) and len(text) <= 20_000
    assert text.count("shared/lib/core.sh (every affected stack)") == 1
    small = render_comment(diffs, "a" * 40, "b" * 40, max_chars=5_000)
    assert len(small) <= 5_000 and "Diffs left out" in small and "`shared/lib/core.sh`" in small


def test_redact_longest_first_and_ignores_tiny_values() -> None:
    assert redact("token abcdef and abc", ["abc", "abcdef"]) == "token [redacted] and abc"
    assert redact("a b", ["a", ""]) == "a b"
