"""--engine-preview with the real engine, no lab host: a stack never deployed in the local state
(marker `engine`). The comment says the engine would create every resource, lists them by name
and operation, and holds nothing else of the preview's output. The comparison with a deployed
stack runs on a lab host in tests/engine/test_preview_comment_engine.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infrakit.plan.sources import PROJECT_ROOT

pytestmark = pytest.mark.engine

ENGINE = PROJECT_ROOT / ".infrakit" / "engine"
TEMPLATE = "shared/hardening/templates/sshd_hardening.conf.j2"


def _git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True).stdout.strip()


def test_engine_preview_of_a_stack_not_deployed_yet(tmp_path: Path) -> None:
    if not (ENGINE / "pulumi").exists():
        message = f"needs the engine at {ENGINE} (scripts/setup.sh builds it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path / "repo"
    files = subprocess.run(
        ["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for raw in filter(None, files):
        rel = raw.decode()
        if (PROJECT_ROOT / rel).is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / rel, root / rel)
    (root / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    (root / ".infrakit").mkdir()
    (root / ".infrakit" / "engine").symlink_to(ENGINE.resolve())
    _git(root, "init", "-q", "-b", "main")
    (root / ".git" / "info" / "exclude").write_text(".venv\n.infrakit\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    init = subprocess.run(
        [str(root / "scripts" / "pulumi"), "stack", "init", "lab", "--non-interactive"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    (root / TEMPLATE).write_text((root / TEMPLATE).read_text() + "# reviewed\n")
    _git(root, "commit", "-q", "-am", "one template line")
    out = root / "comment.md"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "adapters",
            "preview-comment",
            "--repo",
            str(root),
            "--base",
            "HEAD~1",
            "--head",
            "HEAD",
            "--stack",
            "lab",
            "--out",
            str(out),
            "--engine-preview",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "Engine preview (`pulumi preview` in the checkout):" in text
    assert "`node-setup-harden_ssh (create)`" in text and "`node-setup-host (create)`" in text
    assert "the stack is not deployed in this state yet: the engine creates all" in text
    assert "infrakit-lab-not-secret" not in text
