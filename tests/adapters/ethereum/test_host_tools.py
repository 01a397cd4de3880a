"""The operator tool shipped to validator hosts (not a bundle primitive, so linted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from infrakit.plan.sources import PROJECT_ROOT

TOOL = PROJECT_ROOT / "adapters" / "ethereum" / "host" / "ik-eth-validator"
SHELLCHECK = Path(sys.executable).parent / "shellcheck"


def test_tool_is_shellcheck_clean() -> None:
    result = subprocess.run([str(SHELLCHECK), "-x", "-s", "bash", str(TOOL)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_help_lists_every_command_and_needs_no_root() -> None:
    result = subprocess.run(["bash", str(TOOL), "--help"], capture_output=True, text=True, check=False, timeout=10)
    assert result.returncode == 0
    for command in ("import-keys", "slashing-import", "slashing-export", "exit", "status"):
        assert f"ik-eth-validator {command}" in result.stdout


def test_missing_settings_file_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(["bash", str(TOOL), "status"], capture_output=True, text=True, check=False, timeout=10,
                            env={"PATH": "/usr/bin:/bin", "IK_ETH_ENV": str(tmp_path / "none.env")})
    assert result.returncode != 0
    assert "none.env" in result.stderr or "run as root" in result.stderr
