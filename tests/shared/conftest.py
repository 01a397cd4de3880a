"""Fixtures for the shell primitives' tests: run bash snippets against the shell library, build
fake step directories and bundles in a temp dir. Nothing here touches the real system."""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LIB = REPO / "shared" / "lib"
# Every module of the library, core first (the others source it themselves).
MODULES = (LIB / "core.sh", LIB / "files.sh", LIB / "apt.sh", LIB / "download.sh", LIB / "systemd.sh",
           LIB / "params.sh", LIB / "versions.sh")
RUN_STEP = LIB / "run_step.sh"


def owner() -> str:
    """The current user:group, as ik_write_file expects it."""
    return f"{pwd.getpwuid(os.getuid()).pw_name}:{grp.getgrgid(os.getgid()).gr_name}"


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A minimal environment: no IK_* leaking in from the caller, temp files under tmp."""
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL": "C",
        "TMPDIR": str(tmp),
        "IK_STATE_DIR": str(tmp / "state"),
    }
    env.update(extra)
    return env


BashRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def bash(tmp_path: Path) -> BashRunner:
    """Run a bash snippet with every library module sourced, as a script file named t_step.sh (so the
    step name is `t_step`). Returns the CompletedProcess (text mode)."""

    def run(snippet: str, *, stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess[str]:
        script = tmp_path / "t_step.sh"
        script.write_text("#!/usr/bin/env bash\n# t_step.sh: a test script.\n#   FOO  an input\n\n"
                          + "".join(f"source {shlex.quote(str(m))}\n" for m in MODULES) + f"{snippet}\n")
        return subprocess.run(
            ["bash", str(script)], input=stdin if stdin is not None else "", capture_output=True, text=True,
            cwd=tmp_path, env=clean_env(tmp_path, **(env or {})), timeout=timeout, check=False,
        )

    return run


@dataclass
class StepDir:
    """A fake steps/<name>/ directory with rendered files and files.tsv."""

    path: Path

    def add_file(self, name: str, content: str, dest: Path | str, mode: str = "0644",
                 file_owner: str | None = None) -> None:
        files = self.path / "files"
        files.mkdir(parents=True, exist_ok=True)
        (files / name).write_text(content)
        with (self.path / "files.tsv").open("a") as tsv:
            tsv.write(f"{name}\t{mode}\t{file_owner or owner()}\t{dest}\n")


@pytest.fixture
def step_dir(tmp_path: Path) -> StepDir:
    path = tmp_path / "bundle" / "steps" / "t_step"
    path.mkdir(parents=True)
    (path / "files.tsv").write_text("")
    return StepDir(path)


def require_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("run_step tests need root in CI")
        pytest.skip("run_step.sh refuses to run without root")
