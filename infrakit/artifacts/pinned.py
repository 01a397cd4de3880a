"""Artifact kind 1: a pinned release tarball, zip or single binary (sha256 from the lock file).

Resolves what a stack wants (manifest version, per-stack version override, optional mirror)
against the lock file, and builds the step that runs shared/artifacts/install_artifact.sh:
download, verify the sha256 before unpacking, unpack side by side under
INSTALL_ROOT/NAME/VERSION and switch the `current` symlink in one rename. An unlocked
artifact is a plan blocker and the step refuses it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infrakit.artifacts.lock import LockEntry, LockFile
from infrakit.artifacts.manifest import NAME_RE, VERSION_RE, ArtifactSpec, Manifest, ManifestError
from infrakit.plan.model import Step
from infrakit.plan.sources import PROJECT_ROOT

SCRIPT = "shared/artifacts/install_artifact.sh"
INSTALL_ROOT = "/opt/infrakit"


@dataclass(frozen=True)
class Resolved:
    """One artifact as a host will install it: its spec, version, lock entry and download URL."""

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


def resolve(
    manifest: Manifest,
    lock: LockFile,
    names: list[str],
    versions: Mapping[str, str] | None = None,
    base_url: str | None = None,
) -> list[Resolved]:
    """The artifacts `names` at the manifest's version (or `versions[name]`), each with its lock
    entry; with `base_url` the same file is fetched from <base_url>/<name>/<version>/<file>."""
    out = []
    for name in names:
        spec = manifest.get(name)
        version = (versions or {}).get(name, spec.version)
        if not VERSION_RE.match(version):
            raise ValueError(f"artifact {name}: version {version!r} is not like 1.2.3")
        entry = lock.find(name, version)
        try:
            url = entry.url if entry and entry.url else spec.url(version)
        except ManifestError:
            url = ""  # a per-release URL part is not recorded: unlocked, and the blocker says so
        if base_url and url:
            filename = url.rstrip("/").rsplit("/", 1)[-1]
            url = f"{base_url.rstrip('/')}/{name}/{version}/{filename}"
        out.append(Resolved(spec, version, entry, url))
    return out


def unlocked_blockers(stack: str, key: str, lock: Path, resolved: list[Resolved]) -> list[str]:
    """One clear line per unlocked artifact: a plan blocker (`validate`/`plan`/`render` show it,
    `apply` and `pulumi up` refuse the whole plan), and the install step refuses too."""
    where = lock.relative_to(PROJECT_ROOT) if lock.is_relative_to(PROJECT_ROOT) else lock
    return [
        f"stack '{stack}': {key}: artifact {item.spec.name} {item.version} is not locked in {where}; apply will "
        f"refuse to install it. {_first_step(item)} `infrakit lock {item.spec.name}@{item.version}` where the "
        "upstream URL is reachable and commit the lock file"
        for item in resolved
        if not item.locked
    ]


def _first_step(item: Resolved) -> str:
    if item.url:
        return "Run"
    return (
        f"Record the per-release URL part of {item.spec.name} {item.version} in the manifest "
        f"([artifacts.{item.spec.name}.releases]), then run"
    )


def step_name(name: str) -> str:
    return "artifact_" + name.replace("-", "_")


def binary_path(name: str, path: str, install_root: str = INSTALL_ROOT) -> str:
    """Where a unit finds an installed artifact's file: through the `current` symlink."""
    return f"{install_root}/{name}/current/{path}"


def artifact_step(item: Resolved, install_root: str = INSTALL_ROOT, keep_versions: int = 3) -> Step:
    """The step that installs `item` (the script re-checks every value it receives)."""
    if not NAME_RE.match(item.spec.name):
        raise ValueError(f"artifact name {item.spec.name!r} is not lower-case letters, digits and '-'")
    if keep_versions < 2:
        raise ValueError("keep_versions must be at least 2 (current and previous)")
    locked = "" if item.locked else " - NOT LOCKED: this step refuses to run"
    return Step(
        name=step_name(item.spec.name),
        script=SCRIPT,
        description=f"{item.spec.name} {item.version}: verify sha256, unpack side by side, switch current{locked}",
        params={
            "ARTIFACT_NAME": item.spec.name,
            "ARTIFACT_VERSION": item.version,
            "ARTIFACT_URL": item.url,
            "ARTIFACT_SHA256": item.sha256,
            "ARTIFACT_KIND": item.spec.kind,
            "ARTIFACT_STRIP": str(item.spec.strip),
            "ARTIFACT_BINARIES": " ".join(item.spec.binaries),
            "INSTALL_ROOT": install_root,
            "KEEP_VERSIONS": str(keep_versions),
        },
    )
