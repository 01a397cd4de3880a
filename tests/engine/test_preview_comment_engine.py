"""`infrakit preview-comment` agrees with the real engine's `pulumi preview --diff`.

A lab host is converged at a base commit (`pulumi up`); the head commit changes one line of
one template. The render diff between the two commits must name exactly the steps the engine's
preview re-runs (Step resources updated because their hash changed), plus the bundle.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from infrakit.resource_names import setup_resource
from tests.engine.conftest import EngineProject, lab_values
from tests.engine.test_pulumi_up import changes

pytestmark = [pytest.mark.lab, pytest.mark.engine]

STACK = "lab"
TEMPLATE = "shared/hardening/templates/sshd_hardening.conf.j2"


def _git(project: EngineProject, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run(
        ["git", *args], cwd=project.root, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def deployed(engine_project: EngineProject) -> tuple[EngineProject, str]:
    """The copy as a git repository whose first commit is converged on the lab host."""
    project = engine_project
    project.write_stack(STACK, lab_values(project.host))
    init = project.pulumi("stack", "init", STACK)
    assert init.ok, init.out
    _git(project, "init", "-q", "-b", "main")
    (project.root / ".git" / "info" / "exclude").write_text(".venv\n.infrakit\n")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "base")
    up = project.up(STACK)
    assert up.ok, up.out[-4000:]
    return project, _git(project, "rev-parse", "HEAD")


def test_render_diff_names_exactly_what_the_engine_reruns(deployed: tuple[EngineProject, str]) -> None:
    project, base = deployed
    template = project.root / TEMPLATE
    template.write_text(template.read_text() + "# reviewed in a pull request\n")
    _git(project, "commit", "-q", "-am", "one template line")
    out = project.root / "comment.md"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "adapters",  # the infrakit CLI's module form
            "preview-comment",
            "--repo",
            str(project.root),
            "--base",
            base,
            "--head",
            "HEAD",
            "--stack",
            STACK,
            "--out",
            str(out),
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    comment = out.read_text()
    rerun = set(re.findall(r"^- `(\w+)` `[0-9a-f]{12}` -> `[0-9a-f]{12}`", comment, re.M))
    assert rerun == {"harden_ssh"}, comment[:3000]
    preview = project.pulumi("preview", "-s", STACK, "--diff")
    assert preview.ok, preview.out[-3000:]
    expected = {setup_resource(name): "update" for name in rerun} | {setup_resource("bundle"): "update"}
    assert changes(preview.out) == expected, preview.out[-3000:]
    assert "The bundle" in comment, "the comment says the bundle is uploaded again"
