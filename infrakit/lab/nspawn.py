"""Start and stop one ``systemd-nspawn --boot`` by PID (the host has no systemd/D-Bus).

The PID is paired with its start time (field 22 of /proc/PID/stat) so a recycled PID is
never mistaken for a lab host. A stop sends SIGTERM (nspawn turns it into a clean
poweroff of the guest), waits, then SIGKILLs the guest's PID 1 (which ends the whole
PID namespace) and nspawn itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from infrakit.lab.errors import LabError
from infrakit.lab.proc import tool_env, which

# nspawn children started by this process, so that they are reaped (no zombies)
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


def start_time_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def is_alive(proc: Proc) -> bool:
    child = _CHILDREN.get(proc.pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[proc.pid]
        return False
    fields = _stat_fields(proc.pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return int(fields[19]) == proc.start_time


def start(name: str, root: Path, log_path: Path) -> Proc:
    """Boot ``root`` in a new session (setsid) with a private veth network."""
    nspawn = which("systemd-nspawn")
    if nspawn is None:
        raise LabError("systemd-nspawn not found (install systemd-container)")
    argv = [
        nspawn,
        "--boot",
        "--register=no",  # no systemd-machined / D-Bus on this host
        "--keep-unit",
        f"--machine={name}",
        "--network-veth",
        "--resolv-conf=off",  # the lab writes the guest's resolv.conf itself
        "--timezone=off",
        "--link-journal=no",
        "-D",
        str(root),
    ]
    with open(log_path, "ab") as log_file:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=tool_env(),
        )
    _CHILDREN[child.pid] = child
    started = start_time_of(child.pid)
    if started is None:
        child.wait(timeout=10)
        raise LabError(f"systemd-nspawn exited at once; see {log_path}")
    return Proc(child.pid, started)


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids += [int(k) for k in task.read_text().split()]
        except OSError:
            continue
    return kids


def _pid_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def guest_init_pid(proc: Proc) -> int | None:
    """The guest's PID 1 as seen from the host: nspawn's child in another PID ns."""
    own = _pid_ns(proc.pid)
    for kid in _children(proc.pid):
        ns = _pid_ns(kid)
        if ns is not None and ns != own:
            return kid
    return None


def wait_exit(proc: Proc, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_alive(proc):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def stop(proc: Proc, *, timeout: float = 30.0) -> None:
    """Power the guest off (SIGTERM), then force (SIGKILL) after ``timeout``."""
    if not is_alive(proc):
        return
    _signal(proc.pid, signal.SIGTERM)
    if wait_exit(proc, timeout):
        return
    init = guest_init_pid(proc)
    if init is not None:
        _signal(init, signal.SIGKILL)  # ends every process of the guest's PID ns
    _signal(proc.pid, signal.SIGKILL)
    if not wait_exit(proc, 10.0):
        raise LabError(f"systemd-nspawn (pid {proc.pid}) survived SIGKILL")
