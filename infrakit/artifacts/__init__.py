"""Pinned, verified binaries: the desired-version manifest, the lock file, `infrakit lock`.

The manifest (e.g. `adapters/ethereum/versions.toml`) says which version of each artifact
a host should run and where upstream publishes it. The lock file next to it records what
`infrakit lock` actually downloaded: the exact URL, the sha256 computed from the bytes,
and whether a publisher signature was checked. A plan installs only locked artifacts;
an entry without a sha256 is *unlocked* and its install step refuses to run.
"""

from infrakit.artifacts.lock import LockEntry, LockFile, read_lock, write_lock
from infrakit.artifacts.manifest import ArtifactSpec, Manifest, read_manifest

__all__ = ["ArtifactSpec", "LockEntry", "LockFile", "Manifest", "read_lock", "read_manifest", "write_lock"]
