"""A commit's tracked files, exported into a directory (`git archive`, never a checkout).

The export is what the commit holds: no untracked files, no virtualenv, no local state. It is
unpacked with tarfile's `data` filter, so a path in the archive cannot leave the directory.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path


class SnapshotError(Exception):
    """The revision or the repository cannot be read; the message names it."""


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)


def resolve(repo: Path, rev: str) -> str:
    """The full commit id of `rev` (a branch, tag, sha, HEAD~1, ...)."""
    if not rev or rev.startswith("-"):
        raise SnapshotError(f"revision {rev!r}: expected a commit (branch, tag or sha)")
    result = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if result.returncode != 0:
        raise SnapshotError(f"revision {rev!r} is not a commit in {repo}")
    return result.stdout.decode().strip()


def export(repo: Path, commit: str, dest: Path) -> Path:
    """Unpack `commit`'s tree into `dest` (created) and return it."""
    result = _git(repo, "archive", "--format=tar", commit)
    if result.returncode != 0:
        raise SnapshotError(f"git archive {commit[:12]} failed: {result.stderr.decode(errors='replace').strip()}")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(result.stdout), mode="r:") as archive:
        archive.extractall(dest, filter="data")
    return dest


def changed_paths(repo: Path, base: str, head: str) -> list[str]:
    """Paths that differ between two commits (renames as delete + add)."""
    result = _git(repo, "diff", "--name-only", "--no-renames", base, head)
    if result.returncode != 0:
        raise SnapshotError(f"git diff {base[:12]} {head[:12]} failed: {result.stderr.decode(errors='replace')}")
    return [line for line in result.stdout.decode().splitlines() if line]
