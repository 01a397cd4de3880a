"""Mount-table queries and the overlay mount of a lab host."""

from __future__ import annotations

import re
import time
from pathlib import Path

from infrakit_lab.errors import LabError
from infrakit_lab.proc import run

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def mount_points() -> list[Path]:
    """Every mount point in this mount namespace, in mount order."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) > 4:
                points.append(Path(_unescape(fields[4])))
    return points


def is_mounted(path: Path) -> bool:
    return path.resolve() in mount_points()


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below ``root``, deepest (last mounted) first."""
    root = root.resolve()
    found = [p for p in mount_points() if p == root or root in p.parents]
    return list(reversed(found))


def mount_overlay(lower: Path, upper: Path, work: Path, merged: Path) -> None:
    for p in (lower, upper, work, merged):
        if any(c in str(p) for c in ",:\\"):
            raise LabError(f"overlay path must not contain ',', ':' or '\\': {p}")
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], timeout=30)


def unmount(path: Path, *, timeout: float = 10.0) -> None:
    """Unmount ``path``; retry while busy, then detach lazily as the last resort."""
    deadline = time.monotonic() + timeout
    while is_mounted(path):
        result = run(["umount", str(path)], timeout=30, check=False)
        if result.returncode == 0:
            continue
        if time.monotonic() >= deadline:
            run(["umount", "--lazy", str(path)], timeout=30)
            break
        time.sleep(0.3)


def unmount_all_under(root: Path) -> None:
    for point in mounts_under(root):
        unmount(point)


def remove_tree(path: Path) -> None:
    """``rm -rf --one-file-system``: never follows a leftover mount out of ``path``."""
    if path.exists() or path.is_symlink():
        run(["rm", "-rf", "--one-file-system", str(path)], timeout=300)
