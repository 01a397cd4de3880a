"""shared/artifacts/install_artifact.sh (artifact kind 1), run for real against a temp INSTALL_ROOT.

The script is run as root (it refuses otherwise) but only ever writes under tmp_path.
What it must guarantee: verify before unpacking, install side by side, switch `current`
atomically, and on any failure leave the running version exactly where it was.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.shared.conftest import REPO, clean_env

SCRIPT = REPO / "shared" / "artifacts" / "install_artifact.sh"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="install_artifact.sh refuses to run without root")


def tarball(version: str) -> bytes:
    raw = io.BytesIO()
    # gzip's header carries a time: mtime=0 keeps two builds of one version byte-identical
    # (a rebuild a second later had another sha256, so the no-op re-run saw a new artifact)
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        data = f"#!/bin/sh\necho tool {version}\n".encode()
        info = tarfile.TarInfo(f"tool-{version}/bin/tool")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def run(tmp_path: Path, url: str, version: str, sha256: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(
        tmp_path,
        ARTIFACT_NAME="tool",
        ARTIFACT_VERSION=version,
        ARTIFACT_URL=url,
        ARTIFACT_SHA256=sha256,
        ARTIFACT_STRIP="1",
        ARTIFACT_BINARIES="bin/tool",
        INSTALL_ROOT=str(tmp_path / "opt"),
    )
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, check=False, timeout=60)


def publish(root: Path, version: str, data: bytes | None = None) -> str:
    good = tarball(version)
    (root / f"tool-{version}.tar.gz").write_bytes(data if data is not None else good)
    return hashlib.sha256(good).hexdigest()


def current(tmp_path: Path) -> str:
    return os.readlink(tmp_path / "opt" / "tool" / "current")


def test_install_is_idempotent_then_upgrades_side_by_side(tmp_path: Path, http_server: tuple[str, Path]) -> None:
    url, root = http_server
    first = run(tmp_path, f"{url}/tool-1.0.0.tar.gz", "1.0.0", publish(root, "1.0.0"))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == "infrakit: step=install_artifact changed=1"
    again = run(tmp_path, f"{url}/tool-1.0.0.tar.gz", "1.0.0", publish(root, "1.0.0"))
    assert again.stdout.splitlines()[-1].endswith("changed=0"), again.stderr
    upgrade = run(tmp_path, f"{url}/tool-1.1.0.tar.gz", "1.1.0", publish(root, "1.1.0"))
    assert upgrade.returncode == 0, upgrade.stderr
    assert "infrakit: artifact=tool version=1.1.0 previous=1.0.0" in upgrade.stdout
    assert current(tmp_path) == "1.1.0"
    assert (tmp_path / "opt/tool/1.0.0/bin/tool").is_file(), "the previous version stays for a rollback"


def test_a_tampered_download_is_refused_and_current_stays(tmp_path: Path, http_server: tuple[str, Path]) -> None:
    url, root = http_server
    assert run(tmp_path, f"{url}/tool-1.0.0.tar.gz", "1.0.0", publish(root, "1.0.0")).returncode == 0
    digest = publish(root, "1.1.0", data=tarball("6.6.6"))
    bad = run(tmp_path, f"{url}/tool-1.1.0.tar.gz", "1.1.0", digest)
    assert bad.returncode != 0 and "sha256 mismatch" in bad.stderr
    assert current(tmp_path) == "1.0.0"
    assert not (tmp_path / "opt/tool/1.1.0").exists()


def test_an_unlocked_artifact_downloads_nothing(tmp_path: Path) -> None:
    result = run(tmp_path, "http://127.0.0.1:9/never", "1.0.0", "")
    assert result.returncode != 0 and "is not locked" in result.stderr
    assert not (tmp_path / "opt").exists()
