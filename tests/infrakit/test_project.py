"""The CLI finds the operator's project from the current directory (or --project), so stacks
can live in the operator's own repository with InfraKit as a dependency."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapters import registry
from infrakit import project
from infrakit.plan.sources import PROJECT_ROOT
from infrakit.project import ProjectError, find_project, project_at


@pytest.fixture(autouse=True)
def _fresh_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(project, "_selected", None)
    monkeypatch.delenv(project.ENV_VAR, raising=False)


def own_repo(tmp_path: Path, stack_dir: str = "stacks") -> Path:
    """An operator's repository: its own Pulumi.yaml and one stack copied from InfraKit's."""
    repo = tmp_path / "ops-repo"
    (repo / stack_dir).mkdir(parents=True)
    (repo / "Pulumi.yaml").write_text(f"name: ops\nruntime: python\nstackConfigDir: {stack_dir}\n")
    shutil.copy(PROJECT_ROOT / "stacks" / "Pulumi.lab.yaml", repo / stack_dir / "Pulumi.mine.yaml")
    return repo


def test_nearest_pulumi_yaml_upward(tmp_path: Path) -> None:
    repo = own_repo(tmp_path)
    deep = repo / "a" / "b"
    deep.mkdir(parents=True)
    found = find_project(deep)
    assert found.root == repo.resolve()
    assert found.stacks_dir == (repo / "stacks").resolve()


def test_stacks_of_the_current_directory_not_of_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A regression here makes `infrakit validate` in an operator's repo check InfraKit's own examples."""
    repo = own_repo(tmp_path)
    monkeypatch.chdir(repo / "stacks")
    assert registry.main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "ok   mine:" in out
    assert "hardened-hcloud" not in out


def test_project_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo = own_repo(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert registry.main(["--project", str(repo), "plan", "mine"]) == 0
    assert "stack mine:" in capsys.readouterr().out


def test_no_project_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert registry.main(["validate"]) == 2
    err = capsys.readouterr().err
    assert f"no Pulumi.yaml in {tmp_path.resolve()} or any directory above it" in err
    assert "--project DIR" in err


def test_stack_config_dir_may_not_leave_the_project(tmp_path: Path) -> None:
    repo = own_repo(tmp_path)
    (repo / "Pulumi.yaml").write_text("name: ops\nruntime: python\nstackConfigDir: ../elsewhere\n")
    with pytest.raises(ProjectError, match="points outside the project"):
        project_at(repo)


def test_default_stack_config_dir_is_the_project(tmp_path: Path) -> None:
    repo = tmp_path / "flat"
    repo.mkdir()
    (repo / "Pulumi.yaml").write_text("name: flat\nruntime: python\n")
    assert project_at(repo).stacks_dir == repo.resolve()
