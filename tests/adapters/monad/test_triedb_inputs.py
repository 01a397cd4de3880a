"""triedb.sh refuses what could wipe the wrong disk before it looks at any device. (Real block
devices: tests/e2e/test_monad_triedb.py, on loop devices.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.shared.conftest import REPO, clean_env

SCRIPT = REPO / "adapters" / "monad" / "scripts" / "triedb.sh"


@pytest.fixture(autouse=True)
def _root() -> None:
    """the step runs as root, like every step: in CI (root) never skipped; elsewhere said, not hidden."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("these script tests need root in CI")
        pytest.skip("the step runs as root, like every step (run as root)")


def run(tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = clean_env(tmp, UDEV_RULE=str(tmp / "99-triedb.rules"), MPT_FLAG=str(tmp / "flag"), **env)
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=full, check=False, timeout=30)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "TRIEDB_DEVICE is missing"),
        ({"TRIEDB_DEVICE": "/dev/nvme1n1"}, "is not a /dev/disk/by-id/ path"),
        ({"TRIEDB_DEVICE": "/dev/disk/by-id/../../sda"}, "is not a /dev/disk/by-id/ path"),
        ({"TRIEDB_DEVICE": "/dev/disk/by-id/nvme-x", "TRIEDB_FORCE": "yes"}, "TRIEDB_FORCE"),
        ({"TRIEDB_DEVICE": "/dev/disk/by-id/nvme-INFRAKIT-TEST-does-not-exist"}, "does not exist"),
    ],
)
def test_refused_before_touching_anything(tmp_path: Path, env: dict[str, str], message: str) -> None:
    result = run(tmp_path, **env)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert not (tmp_path / "99-triedb.rules").exists() and not (tmp_path / "flag").exists()
