"""Where the shell sources live and what they hash to.

Every step runs one script plus the shared library and the step runner, so a step's hash
covers those bytes too: a change to the library honestly re-runs every step.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ("shared/lib/common.sh", "shared/lib/run_step.sh")
BUNDLE_DIRS = ("shared", "adapters")


def source_path(relative: str) -> Path:
    path = (PROJECT_ROOT / relative).resolve()
    if PROJECT_ROOT not in path.parents:
        raise ValueError(f"{relative!r} is outside the project")
    return path


@cache
def source_bytes(relative: str) -> bytes:
    """A shipped file's bytes, read once per process: the step hashes (source_digest) and the
    bundle (bundle_entries) see the same snapshot, and a fleet reads each file once."""
    path = source_path(relative)
    if not path.is_file():
        raise FileNotFoundError(f"script {relative!r} does not exist in the project")
    return path.read_bytes()


@cache
def _file_digest(relative: str) -> str:
    return hashlib.sha256(source_bytes(relative)).hexdigest()


def source_digest(script: str) -> str:
    """Digest of a script together with the library every script sources."""
    parts = [f"{name}:{_file_digest(name)}" for name in (script, *LIBRARY)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def bundle_sources() -> list[str]:
    """Every file shipped to a host: the shell scripts (and shared Python helpers), sorted."""
    return list(_bundle_sources())


@cache
def _bundle_sources() -> tuple[str, ...]:
    files: list[str] = []
    for top in BUNDLE_DIRS:
        for path in sorted((PROJECT_ROOT / top).rglob("*")):
            shipped = path.suffix == ".sh" or (top == "shared" and path.suffix == ".py")
            if path.is_file() and shipped and "__pycache__" not in path.parts:
                files.append(path.relative_to(PROJECT_ROOT).as_posix())
    return tuple(files)
