"""Subprocess helpers: argument lists only, a timeout on every call, LabError on failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from infrakit_lab.errors import LabError

# Root's tools (ip, nft, debootstrap, mount) live in sbin, which a non-login PATH may lack.
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def _path_with_sbin() -> str:
    parts = [p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p]
    parts += [d for d in _SBIN_DIRS if d not in parts]
    return os.pathsep.join(parts)


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for lab subprocesses: ours, with sbin on PATH and a C locale."""
    env = dict(os.environ)
    env["PATH"] = _path_with_sbin()
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


def which(tool: str) -> str | None:
    """Like shutil.which, but also looks in the sbin directories."""
    return shutil.which(tool, path=_path_with_sbin())


def _last_line(text: str | bytes | None) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run(
    cmd: Sequence[str | Path],
    *,
    timeout: float,
    check: bool = True,
    input_text: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (a list, never a shell string) with captured text output.

    Raises LabError when the tool is missing, times out, or (with ``check``) exits
    non-zero; the message names the tool and quotes the last line of its stderr.
    """
    argv = [str(c) for c in cmd]
    try:
        result = subprocess.run(
            argv,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=tool_env(env),
            cwd=cwd,
            check=False,
        )
    except FileNotFoundError as exc:
        raise LabError(f"command not found: {argv[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{argv[0]} timed out after {timeout:g} s: {' '.join(argv)}") from exc
    if check and result.returncode != 0:
        detail = _last_line(result.stderr) or _last_line(result.stdout) or "no output"
        raise LabError(f"{argv[0]} failed (exit {result.returncode}): {detail}")
    return result
