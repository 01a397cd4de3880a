"""The pinned tarball/binary kind's model: resolution against manifest + lock, and its step."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from infrakit.artifacts import pinned
from infrakit.artifacts.lock import LockEntry, LockFile, read_lock, write_lock
from infrakit.artifacts.manifest import read_manifest


def write_test_lock(tmp: Path, versions: dict[str, list[str]]) -> Path:
    """A TEST lock file; each sha256 is computed from stand-in bytes, never typed in."""
    lock = LockFile(tmp / "test.lock.toml", {})
    for name, items in versions.items():
        for version in items:
            digest = hashlib.sha256(f"{name}-{version}".encode()).hexdigest()
            lock = lock.with_entry(
                LockEntry(
                    name=name,
                    version=version,
                    status="locked",
                    sha256=digest,
                    url=f"https://example.invalid/{name}-{version}.tar.gz",
                    size=1,
                )
            )
    write_lock(lock)
    return lock.path


@pytest.fixture
def manifest(tmp_path: Path):
    path = tmp_path / "versions.toml"
    path.write_text(
        '[artifacts.geth]\nversion = "1.0.0"\nurl = "https://example.org/geth-{version}.tar.gz"\n'
        'strip = 1\nbinaries = ["geth"]\n'
    )
    return read_manifest(path)


def test_resolve_uses_the_lock_and_a_mirror(tmp_path: Path, manifest) -> None:
    lock = read_lock(write_test_lock(tmp_path, {"geth": ["1.0.0", "1.0.1"]}))
    [item] = pinned.resolve(manifest, lock, ["geth"], {"geth": "1.0.1"}, "http://10.199.0.1:8000/")
    assert item.locked and item.version == "1.0.1"
    assert item.url.startswith("http://10.199.0.1:8000/geth/1.0.1/")
    step = pinned.artifact_step(item)
    assert step.script == pinned.SCRIPT and step.name == "artifact_geth"
    assert step.params["ARTIFACT_SHA256"] == item.sha256 and step.params["ARTIFACT_STRIP"] == "1"


def test_an_unlocked_artifact_is_a_blocker_naming_the_stack_and_key(tmp_path: Path, manifest) -> None:
    lock = read_lock(write_test_lock(tmp_path, {"geth": ["0.9.0"]}))
    resolved = pinned.resolve(manifest, lock, ["geth"])
    assert not resolved[0].locked and pinned.artifact_step(resolved[0]).params["ARTIFACT_SHA256"] == ""
    [line] = pinned.unlocked_blockers("s1", "infrakit:chainSettings", lock.path, resolved)
    assert line.startswith("stack 's1': infrakit:chainSettings: artifact geth 1.0.0 is not locked")


def test_a_bad_version_override_is_refused(tmp_path: Path, manifest) -> None:
    lock = read_lock(write_test_lock(tmp_path, {"geth": ["1.0.0"]}))
    with pytest.raises(ValueError, match=r"not like 1\.2\.3"):
        pinned.resolve(manifest, lock, ["geth"], {"geth": "1.0; rm -rf /"})
