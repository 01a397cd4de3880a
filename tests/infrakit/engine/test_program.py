"""Running the Pulumi program outside the engine says how to run it (no traceback)."""

from __future__ import annotations

import subprocess
import sys

from infrakit.plan.sources import PROJECT_ROOT


def test_python_main_outside_the_engine() -> None:
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "__main__.py")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "pulumi up -s STACK" in result.stderr
    assert "infrakit apply STACK" in result.stderr
    assert "'stack'" not in result.stderr
