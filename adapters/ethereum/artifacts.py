"""Which artifacts a stack installs, resolved against the manifest and the lock file."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from adapters.ethereum.settings import EthereumSettings
from infrakit.artifacts.lock import LockEntry, LockFile, read_lock
from infrakit.artifacts.manifest import ArtifactSpec, Manifest, read_manifest
from infrakit.plan.sources import PROJECT_ROOT

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "versions.toml"
LOCK = HERE / "artifacts.lock.toml"


@dataclass(frozen=True)
class Resolved:
    spec: ArtifactSpec
    version: str
    entry: LockEntry | None
    url: str

    @property
    def locked(self) -> bool:
        return self.entry is not None and self.entry.locked

    @property
    def sha256(self) -> str:
        return self.entry.sha256 if self.entry and self.entry.locked else ""

    def label(self) -> str:
        return f"{self.spec.name} {self.version} sha256:{self.sha256[:16] or 'UNLOCKED'}"


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


def resolve(settings: EthereumSettings, names: list[str]) -> list[Resolved]:
    lock = lock_for(settings)
    out = []
    for name in names:
        spec = manifest().get(name)
        version = settings.versions.get(name, spec.version)
        entry = lock.find(name, version)
        url = entry.url if entry else spec.url(version)
        if settings.artifacts.base_url:
            filename = url.rstrip("/").rsplit("/", 1)[-1]
            url = f"{settings.artifacts.base_url}/{name}/{version}/{filename}"
        out.append(Resolved(spec, version, entry, url))
    return out


def warn_unlocked(stack: str, lock: Path, resolved: list[Resolved]) -> list[str]:
    """One clear line per unlocked artifact: a plan blocker (`validate`/`plan`/`render` show it,
    `apply` and `pulumi up` refuse the whole plan), and the install step refuses too."""
    lines = []
    where = lock.relative_to(PROJECT_ROOT) if lock.is_relative_to(PROJECT_ROOT) else lock
    for item in resolved:
        if not item.locked:
            line = (f"stack '{stack}': infrakit:chainSettings: artifact {item.spec.name} {item.version} is not locked "
                    f"in {where}; apply will refuse to install it. Run `infrakit lock {item.spec.name}@{item.version}`"
                    " where the upstream URL is reachable and commit the lock file")
            lines.append(line)
    return lines
