"""Where the operator's project is: the nearest `Pulumi.yaml` upward from the current
directory, or the directory given with `infrakit --project DIR` (env INFRAKIT_PROJECT).

A project holds the stack files (Pulumi's `stackConfigDir`, default the project itself),
renders (`out/`) and apply logs (`.infrakit/logs/`). It need not be the InfraKit checkout:
an operator keeps stacks in their own repository and installs InfraKit as a dependency.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

PROJECT_FILE = "Pulumi.yaml"
ENV_VAR = "INFRAKIT_PROJECT"


class ProjectError(Exception):
    """No usable project: the message says where we looked and what to do."""


@dataclass(frozen=True)
class Project:
    root: Path
    stacks_dir: Path

    @property
    def out_dir(self) -> Path:
        return self.root / "out"

    @property
    def state_dir(self) -> Path:
        """Local, untracked state of InfraKit runs (apply logs); `.infrakit/` is git-ignored."""
        return self.root / ".infrakit"


_selected: Project | None = None


def project_at(root: Path) -> Project:
    """The project whose `Pulumi.yaml` is in `root` (ProjectError if there is none or it is bad)."""
    root = root.expanduser().resolve()
    path = root / PROJECT_FILE
    if not path.is_file():
        raise ProjectError(f"{root} is not a project: it has no {PROJECT_FILE}")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProjectError(f"{path}: cannot be read as YAML ({exc})") from None
    if not isinstance(doc, dict):
        raise ProjectError(f"{path}: expected a mapping (name, runtime, stackConfigDir)")
    stack_dir = doc.get("stackConfigDir", ".")
    if not isinstance(stack_dir, str) or not stack_dir:
        raise ProjectError(f"{path}: stackConfigDir: expected a relative directory name")
    stacks = (root / stack_dir).resolve()
    if stacks != root and root not in stacks.parents:
        raise ProjectError(f"{path}: stackConfigDir {stack_dir!r} points outside the project")
    return Project(root, stacks)


def find_project(start: Path) -> Project:
    """The nearest directory from `start` upward that has a Pulumi.yaml."""
    start = start.expanduser().resolve()
    for directory in (start, *start.parents):
        if (directory / PROJECT_FILE).is_file():
            return project_at(directory)
    raise ProjectError(f"no {PROJECT_FILE} in {start} or any directory above it: run infrakit inside a "
                       f"project, or pass --project DIR (or set {ENV_VAR})")


def use_project(root: Path | None) -> Project:
    """Select the project for this process: `root`, else $INFRAKIT_PROJECT, else found from the cwd."""
    global _selected  # noqa: PLW0603 - one project per process, chosen once by the CLI
    env = os.environ.get(ENV_VAR)
    if root is not None:
        _selected = project_at(root)
    elif env:
        _selected = project_at(Path(env))
    else:
        _selected = find_project(Path.cwd())
    return _selected


def current() -> Project:
    """The selected project, selecting it (env, then cwd) on first use."""
    return _selected or use_project(None)
