"""`infrakit render --out DIR`: replace DIR only when it is a previous render.

A render writes a marker file at its top. An existing DIR without it (e.g. `--out .`, a
checkout, someone's notes) is refused unless `--force`; even with `--force`, never the
project itself, a directory above it, the home directory or `/`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MARKER = ".infrakit-render"


class RenderDirError(Exception):
    """DIR may not be replaced; the message says why and what to do."""


def prepare_out_dir(out: Path, *, force: bool, project_root: Path) -> None:
    """Make `out` an empty directory, removing it first only if that is safe."""
    resolved = out.expanduser().resolve()
    if resolved.exists() and not resolved.is_dir():
        raise RenderDirError(f"--out {out}: exists and is not a directory")
    if resolved.is_dir() and any(resolved.iterdir()):
        protected = {Path("/"), Path.home().resolve(), project_root.resolve(), *project_root.resolve().parents}
        if resolved in protected:
            raise RenderDirError(f"--out {out}: refusing to replace {resolved} (the project, a directory above it, "
                                 "the home directory or /), even with --force")
        if not (resolved / MARKER).is_file() and not force:
            raise RenderDirError(f"--out {out}: {resolved} is not empty and is not a previous render "
                                 f"(no {MARKER} in it); choose another directory, or pass --force to replace it")
        shutil.rmtree(resolved)
    resolved.mkdir(parents=True, exist_ok=True)


def mark_render(out: Path, stack: str, plan_hash: str) -> None:
    (out / MARKER).write_text(f"rendered by infrakit: stack {stack}, plan {plan_hash}\n", encoding="utf-8")
