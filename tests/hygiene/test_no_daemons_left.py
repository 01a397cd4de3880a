"""A test run leaves no gpg-agent behind (two per run piled up on the shared machine)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from infrakit.plan.sources import PROJECT_ROOT
from tests.conftest import gpg_agents_under


def test_the_gpg_tests_stop_their_agents() -> None:
    # short: gpg-agent's socket path must fit a unix socket name (108 bytes)
    base = Path(tempfile.mkdtemp(prefix="ik-gpg-", dir="/tmp")) / "t"
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={base}",
            "tests/adapters/ethereum/test_artifacts.py", "tests/infrakit/artifacts"]  # fmt: skip
    result = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:]
    deadline = time.monotonic() + 10  # gpgconf --kill asks the agent to exit; give it a moment
    while gpg_agents_under(base.resolve()) and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        assert gpg_agents_under(base.resolve()) == []
    finally:
        shutil.rmtree(base.parent, ignore_errors=True)
