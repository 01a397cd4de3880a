"""Ethereum's artifacts: its manifest and lock file, resolved by the core pinned-artifact kind."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from adapters.ethereum.settings import EthereumSettings
from infrakit.artifacts import pinned
from infrakit.artifacts.lock import LockFile, read_lock
from infrakit.artifacts.manifest import Manifest, read_manifest
from infrakit.plan.sources import PROJECT_ROOT

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "versions.toml"
LOCK = HERE / "artifacts.lock.toml"


@cache
def manifest() -> Manifest:
    return read_manifest(MANIFEST)


def lock_path(settings: EthereumSettings) -> Path:
    name = settings.artifacts.lock_file
    if not name:
        return LOCK
    path = Path(name)
    return path if path.is_absolute() else PROJECT_ROOT / path


def lock_for(settings: EthereumSettings) -> LockFile:
    return read_lock(lock_path(settings))


def resolve(settings: EthereumSettings, names: list[str]) -> list[pinned.Resolved]:
    base = str(settings.artifacts.base_url) if settings.artifacts.base_url else None
    return pinned.resolve(manifest(), lock_for(settings), names, settings.versions, base)


def warn_unlocked(stack: str, lock: Path, resolved: list[pinned.Resolved]) -> list[str]:
    return pinned.unlocked_blockers(stack, "infrakit:chainSettings", lock, resolved)
