"""Long-running lab processes (systemd-nspawn, qemu) tracked by PID + start time.

A PID is paired with its start time (field 22 of /proc/PID/stat) so that a recycled PID
is never mistaken for a lab process after the recording process has gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infrakit_lab.errors import LabError
from infrakit_lab.proc import tool_env

# children started by this process, polled so that they are reaped (no zombies)
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Proc:
    pid: int
    start_time: int  # clock ticks after boot, from /proc/PID/stat


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ..." - comm may contain spaces and parentheses
    return raw[raw.rfind(")") + 2 :].split()


def is_alive(proc: Proc) -> bool:
    child = _CHILDREN.get(proc.pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[proc.pid]
        return False
    fields = _stat_fields(proc.pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return int(fields[19]) == proc.start_time


def spawn(argv: Sequence[str], log_path: Path) -> Proc:
    """Start ``argv`` in a new session (setsid), stdin closed, output appended to a log."""
    with open(log_path, "ab") as log_file:
        try:
            child = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=tool_env(),
            )
        except OSError as exc:
            raise LabError(f"cannot start {argv[0]}: {exc}") from exc
    _CHILDREN[child.pid] = child
    fields = _stat_fields(child.pid)
    if fields is None:
        child.wait(timeout=10)
        raise LabError(f"{argv[0]} exited at once; see {log_path}")
    return Proc(child.pid, int(fields[19]))


def wait_exit(proc: Proc, timeout: float) -> bool:
    """True once ``proc`` has exited; False if it still runs after ``timeout``."""
    deadline = time.monotonic() + timeout
    while is_alive(proc):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def send(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def kill(proc: Proc, *, also: Sequence[int] = ()) -> None:
    """SIGKILL the PIDs in ``also`` and then ``proc``; wait (bounded) for it to exit."""
    for pid in also:
        send(pid, signal.SIGKILL)
    send(proc.pid, signal.SIGKILL)
    if not wait_exit(proc, 10.0):
        raise LabError(f"pid {proc.pid} survived SIGKILL")


def terminate(proc: Proc, *, timeout: float) -> None:
    """SIGTERM, wait at most ``timeout`` seconds, then SIGKILL."""
    if not is_alive(proc):
        return
    send(proc.pid, signal.SIGTERM)
    if not wait_exit(proc, timeout):
        kill(proc)
