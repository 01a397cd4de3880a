"""Where the shell sources live and what they hash to.

A step runs one script through the step runner; each of them names the library modules it
sources (`source "${IK_LIB}/files.sh"`, with the shellcheck directive above it). A step's
hash covers exactly those bytes: its script, the runner, and every file either sources,
transitively. Editing one library module re-runs only the steps whose scripts source it;
editing core.sh (sourced by everything) or the runner honestly re-runs every step.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUNNER = "shared/lib/run_step.sh"
LIB_DIR = "shared/lib"
BUNDLE_DIRS = ("shared", "adapters")

# Any line that sources a file; only the forms below are accepted, so the hash never misses one.
_SOURCE_LINE = re.compile(r"^\s*(?:source|\.)\s+(?P<arg>.+?)\s*$")
# the file's own directory (three spellings) or the library's directory (set by core.sh)
_OWN_DIR = ('$(dirname -- "${BASH_SOURCE[0]}")', "${BASH_SOURCE[0]%/*}", "${IK__SELF_DIR}")
_LIB_DIR_VAR = "${IK_LIB}"
_SOURCE_REL = re.compile(r"^[A-Za-z0-9_./-]+\.sh$")


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


@cache
def sourced_files(script: str) -> tuple[str, ...]:
    """The script and every file it sources, transitively (project-relative, sorted)."""
    seen: set[str] = set()
    todo = [script]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(_sources_of(current))
    return tuple(sorted(seen))


def _sources_of(relative: str) -> list[str]:
    found = []
    text = source_bytes(relative).decode("utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        match = _SOURCE_LINE.match(line)
        if match is None:
            continue
        quoted = match["arg"]
        inner = quoted[1:-1] if len(quoted) > 1 and quoted[0] == quoted[-1] == '"' else ""
        base = next((b for b in (*_OWN_DIR, _LIB_DIR_VAR) if inner.startswith(b + "/")), None)
        rel = inner[len(base) + 1 :] if base else ""
        if base is None or not _SOURCE_REL.match(rel):
            raise ValueError(
                f"{relative} line {number}: cannot tell what `{line.strip()}` sources; write "
                f'`source "${{IK_LIB}}/MODULE.sh"` (see shared/README.md)'
            )
        directory = LIB_DIR if base == _LIB_DIR_VAR else posixpath.dirname(relative)
        target = posixpath.normpath(posixpath.join(directory, rel))
        source_path(target)  # inside the project
        found.append(target)
    return found


def source_digest(script: str) -> str:
    """Digest of what a step runs: its script, the runner, and every file either sources."""
    names = sorted({*sourced_files(script), *sourced_files(RUNNER)})
    parts = [f"{name}:{_file_digest(name)}" for name in names]
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
