"""accounts.sh, the first Aztec step: a host whose C library is too old for Aztec's prover is
refused before any account is created (fake `getconf` on PATH)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.shared.conftest import REPO, clean_env

SCRIPT = REPO / "adapters" / "aztec" / "scripts" / "accounts.sh"
USER = "ik-aztec-test-never"  # never created: every case here is refused first


@pytest.fixture(autouse=True)
def _root() -> None:
    """The step runs as root; in CI (root) never skipped, elsewhere said, not hidden."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("these script tests need root in CI")
        pytest.skip("the step runs as root (run as root)")


def run(tmp: Path, glibc: str, **extra: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "getconf"
    fake.write_text(f"#!/bin/sh\necho 'glibc {glibc}'\n")
    fake.chmod(0o755)
    env = clean_env(tmp, PATH=f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin", INSTALL_USER=USER, **extra)
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, check=False, timeout=30)


def user_exists(name: str) -> bool:
    return subprocess.run(["id", "-u", name], capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize("glibc", ["2.36", "2.35", "2.38"])
def test_an_older_glibc_is_refused_before_anything(tmp_path: Path, glibc: str) -> None:
    result = run(tmp_path, glibc, DEV_USER="ik-dev-test-never")
    assert result.returncode == 1, result.stderr
    assert f"glibc {glibc} is older than 2.39" in result.stderr and "Ubuntu 24.04" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert not user_exists(USER) and not user_exists("ik-dev-test-never")


def test_root_is_never_the_developer(tmp_path: Path) -> None:
    result = run(tmp_path, "2.39", DEV_USER="root")
    assert result.returncode == 1 and "a person's own account" in result.stderr
    assert not user_exists(USER)


def test_a_bad_override_is_refused(tmp_path: Path) -> None:
    result = run(tmp_path, "2.36", OS_OVERRIDE="yes")
    assert result.returncode == 1 and "none or debian-12-lab" in result.stderr
