"""adapters/monad/scripts/triedb.sh on real block devices: loop devices on the lab machine (a
lab host is a container and has none). A blank device is prepared (GPT, one partition named
triedb, the udev rule naming its PARTUUID) and a second run changes nothing; a device holding
a filesystem is left byte-for-byte untouched unless the stack forces it; a mounted device is
refused even with force. This machine runs no udevd, so the test sets IK_TRIEDB_NO_UDEV=1:
the rule is checked as written, the /dev/triedb symlink itself is not (a server's udev makes it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.shared.conftest import REPO

pytestmark = pytest.mark.lab

SCRIPT = REPO / "adapters" / "monad" / "scripts" / "triedb.sh"
BY_ID = Path("/dev/disk/by-id")


def require_root_and_tools() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the TrieDB test needs root (loop devices) in CI")
        pytest.skip("the TrieDB test needs root (loop devices)")
    missing = [pkg for tool, pkg in {"parted": "parted", "mkfs.ext4": "e2fsprogs"}.items() if not shutil.which(tool)]
    if missing:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
            check=True,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )


class Loop:
    """A 64 MiB loop device with a stable name under /dev/disk/by-id/ (removed afterwards)."""

    def __init__(self, tmp: Path, name: str) -> None:
        self.file = tmp / f"{name}.img"
        with self.file.open("wb") as f:
            f.truncate(64 * 1024 * 1024)
        self.dev = subprocess.run(
            ["losetup", "-P", "--show", "-f", str(self.file)], capture_output=True, text=True, check=True
        ).stdout.strip()
        BY_ID.mkdir(parents=True, exist_ok=True)
        self.by_id = BY_ID / f"ik-TEST-monad-triedb-{name}-{os.getpid()}"
        self.by_id.symlink_to(self.dev)

    def digest(self) -> str:
        return hashlib.sha256(Path(self.dev).read_bytes()).hexdigest()

    def close(self) -> None:
        self.by_id.unlink(missing_ok=True)
        subprocess.run(["losetup", "-d", self.dev], check=False)


@pytest.fixture
def loops(tmp_path: Path) -> Iterator[list[Loop]]:
    require_root_and_tools()
    made: list[Loop] = []
    yield made
    for loop in made:
        subprocess.run(["umount", "-q", str(tmp_path / "mnt")], check=False)
        loop.close()


def run(tmp: Path, loop: Loop, force: bool = False) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL": "C",
        "TMPDIR": str(tmp),
        "TRIEDB_DEVICE": str(loop.by_id),
        "TRIEDB_FORCE": "1" if force else "0",
        "UDEV_RULE": str(tmp / "rules" / "99-triedb.rules"),
        "MPT_FLAG": str(tmp / "flag" / "triedb-needs-init"),
        "IK_TRIEDB_NO_UDEV": "1",
        "IK_STEP": "monad_triedb",
    }
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, check=False, timeout=60)


def partuuid(part: str) -> str:
    return subprocess.run(
        ["blkid", "-p", "-s", "PART_ENTRY_UUID", "-o", "value", part], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_blank_device_is_prepared_once(tmp_path: Path, loops: list[Loop]) -> None:
    loop = Loop(tmp_path, "blank")
    loops.append(loop)
    first = run(tmp_path, loop)
    assert first.returncode == 0, first.stderr
    part = f"{loop.dev}p1"
    uuid = partuuid(part)
    assert f"infrakit: triedb device={loop.dev} partition={part} partuuid={uuid} state=prepared" in first.stdout
    assert "logical_block_size=512" in first.stdout
    assert first.stdout.rstrip().endswith("changed=1")
    rule = (tmp_path / "rules" / "99-triedb.rules").read_text()
    assert f'ENV{{ID_PART_ENTRY_UUID}}=="{uuid}"' in rule and 'SYMLINK+="triedb"' in rule and 'MODE="0660"' in rule
    assert (tmp_path / "flag" / "triedb-needs-init").read_text().strip() == uuid, "monad-mpt must run once"
    label = subprocess.run(
        ["blkid", "-p", "-s", "PART_ENTRY_NAME", "-o", "value", part], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert label == "triedb"
    before = loop.digest()
    second = run(tmp_path, loop)
    assert second.returncode == 0, second.stderr
    assert "state=kept" in second.stdout and second.stdout.rstrip().endswith("changed=0")
    assert loop.digest() == before, "a prepared drive is never rewritten"


def test_device_with_a_filesystem_is_left_untouched(tmp_path: Path, loops: list[Loop]) -> None:
    loop = Loop(tmp_path, "ext4")
    loops.append(loop)
    subprocess.run(["mkfs.ext4", "-q", "-F", loop.dev], check=True, capture_output=True)
    before = loop.digest()
    refused = run(tmp_path, loop)
    assert refused.returncode == 1
    assert "is not blank (found: ext4)" in refused.stderr and "left untouched" in refused.stderr
    assert "triedb.force: true" in refused.stderr
    assert loop.digest() == before, "not one byte of a non-blank device may change"
    assert not (tmp_path / "rules" / "99-triedb.rules").exists()
    assert not (tmp_path / "flag").exists()


def test_force_repartitions_a_non_blank_device(tmp_path: Path, loops: list[Loop]) -> None:
    loop = Loop(tmp_path, "forced")
    loops.append(loop)
    subprocess.run(["mkfs.ext4", "-q", "-F", loop.dev], check=True, capture_output=True)
    forced = run(tmp_path, loop, force=True)
    assert forced.returncode == 0, forced.stderr
    assert "state=prepared" in forced.stdout and "force: wiping" in forced.stderr
    fs = subprocess.run(
        ["blkid", "-p", "-s", "TYPE", "-o", "value", loop.dev], capture_output=True, text=True, check=False
    ).stdout.strip()
    assert fs != "ext4"


def test_mounted_device_is_refused_even_with_force(tmp_path: Path, loops: list[Loop]) -> None:
    loop = Loop(tmp_path, "mounted")
    loops.append(loop)
    subprocess.run(["mkfs.ext4", "-q", "-F", loop.dev], check=True, capture_output=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", loop.dev, str(mnt)], check=True)
    refused = run(tmp_path, loop, force=True)
    assert refused.returncode == 1 and "refusing to touch a disk in use" in refused.stderr, refused.stderr


def test_a_partition_or_a_kernel_name_is_refused(tmp_path: Path, loops: list[Loop]) -> None:
    loop = Loop(tmp_path, "part")
    loops.append(loop)
    assert run(tmp_path, loop).returncode == 0
    part_link = BY_ID / f"ik-TEST-monad-triedb-part1-{os.getpid()}"
    part_link.symlink_to(f"{loop.dev}p1")
    try:
        env_loop = Loop.__new__(Loop)
        env_loop.by_id = part_link
        refused = run(tmp_path, env_loop)
        assert refused.returncode == 1 and "is a partition" in refused.stderr
    finally:
        part_link.unlink()
