"""`render --out DIR` never wipes a directory that is not a previous render."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters import registry
from infrakit import project
from infrakit.plan.sources import PROJECT_ROOT
from infrakit.render_dir import MARKER


@pytest.fixture(autouse=True)
def _this_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(project, "_selected", None)
    monkeypatch.chdir(PROJECT_ROOT)


def test_a_directory_that_is_not_a_render_is_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--out .` used to delete the whole checkout."""
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    assert registry.main(["render", "lab", "--out", str(tmp_path)]) == 2
    assert "is not a previous render" in capsys.readouterr().err
    assert notes.read_text() == "mine"


def test_a_previous_render_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert registry.main(["render", "lab", "--out", str(out)]) == 0
    assert (out / MARKER).is_file()
    (out / "stale").write_text("from an older render")
    assert registry.main(["render", "lab", "--out", str(out)]) == 0
    assert not (out / "stale").exists()
    assert (out / "plan.json").is_file()


def test_force_replaces_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert registry.main(["render", "lab", "--out", str(tmp_path), "--force"]) == 0
    assert not (tmp_path / "notes.txt").exists()
    assert (tmp_path / "plan.json").is_file()


def test_the_project_itself_is_refused_even_with_force(capsys: pytest.CaptureFixture[str]) -> None:
    assert registry.main(["render", "lab", "--out", ".", "--force"]) == 2
    assert "even with --force" in capsys.readouterr().err
    assert (PROJECT_ROOT / "Pulumi.yaml").is_file()


def test_an_empty_directory_is_used(tmp_path: Path) -> None:
    assert registry.main(["render", "lab", "--out", str(tmp_path)]) == 0
    assert (tmp_path / MARKER).read_text().startswith("rendered by infrakit: stack lab, plan ")
