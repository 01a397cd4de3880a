"""The hygiene hooks (.pre-commit-config.yaml) catch what they claim to catch.

scripts/test.sh runs `pre-commit run --all-files`; a hook whose entry is wrong, whose file
filter matches nothing or whose tool exits 0 on a problem would pass silently forever. Each
hook is run here on a scratch repository holding one file that breaks it (must fail) and the
same file fixed (must pass), with the project's own configuration files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CONFIG_FILES = (".pre-commit-config.yaml", ".editorconfig", ".yamllint.yaml")

WORKFLOW_OK = """name: ok
on: pull_request
permissions: {}
jobs:
  hello:
    runs-on: ubuntu-24.04
    steps:
      - run: echo "hello"
"""

# hook id -> (path, violating content, clean content)
CASES: dict[str, tuple[str, str, str]] = {
    "ruff-check": ("pkg/lint_me.py", "import os\n", '"""Nothing."""\n'),
    "ruff-format": ("pkg/format_me.py", "x = {  'a':1 }\n", 'x = {"a": 1}\n'),
    "mypy": ("pkg/typed.py", 'def f() -> int:\n    return "no"\n', "def f() -> int:\n    return 1\n"),
    "shellcheck": ("tool.sh", "#!/usr/bin/env bash\necho $1\n", '#!/usr/bin/env bash\necho "$1"\n'),
    "shfmt": (
        "fmt.sh",
        "#!/usr/bin/env bash\nif true;then\necho a\nfi\n",
        "#!/usr/bin/env bash\nif true; then\n  echo a\nfi\n",
    ),
    "yamllint": ("conf.yaml", "a: 1\na: 2\n", "a: 1\nb: 2\n"),
    "actionlint": (
        ".github/workflows/x.yml",
        WORKFLOW_OK.replace("runs-on: ubuntu-24.04", "runs-on: [ubuntu-24.04"),
        WORKFLOW_OK,
    ),
}


def test_every_hook_has_a_case() -> None:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    ids = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert ids == set(CASES), "every hook needs a violating and a clean case here"
    assert all(repo["repo"] == "local" for repo in config["repos"]), "hooks must not be fetched at run time"


def test_test_sh_runs_the_hooks_on_every_file() -> None:
    text = (REPO / "scripts/test.sh").read_text()
    assert re.search(r"^\s*\.venv/bin/pre-commit run --all-files", text, re.M)
    assert "set -Eeuo pipefail" in text, "a failing hook must fail scripts/test.sh"


def _scratch_repo(tmp_path: Path, rel: str, content: str) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    for name in CONFIG_FILES:
        shutil.copy(REPO / name, root / name)
    # The project's ruff settings, and mypy on the scratch package only.
    pyproject = (REPO / "pyproject.toml").read_text()
    pyproject = re.sub(r"(?m)^files = \[.*\]$", 'files = ["pkg"]', pyproject)
    (root / "pyproject.toml").write_text(pyproject)
    (root / ".venv").symlink_to(VENV_BIN.parent)
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    if rel.startswith("pkg/"):
        (root / "pkg/__init__.py").write_text("")
    env = _env(tmp_path)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    return root


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }


def _run_hook(tmp_path: Path, hook: str, rel: str, content: str) -> subprocess.CompletedProcess[str]:
    root = _scratch_repo(tmp_path, rel, content)
    return subprocess.run(
        [str(VENV_BIN / "pre-commit"), "run", hook, "--all-files"],
        cwd=root,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("hook", sorted(CASES))
def test_hook_fails_on_a_violation(hook: str, tmp_path: Path) -> None:
    rel, bad, _ = CASES[hook]
    result = _run_hook(tmp_path, hook, rel, bad)
    assert result.returncode == 1, f"{hook} passed a violating {rel}:\n{result.stdout}{result.stderr}"
    assert "Failed" in result.stdout, result.stdout


@pytest.mark.parametrize("hook", sorted(CASES))
def test_hook_passes_the_fixed_file(hook: str, tmp_path: Path) -> None:
    rel, _, good = CASES[hook]
    result = _run_hook(tmp_path, hook, rel, good)
    assert result.returncode == 0, f"{hook} refused a clean {rel}:\n{result.stdout}{result.stderr}"
    assert "Passed" in result.stdout, f"{hook} did not run on {rel}:\n{result.stdout}"
