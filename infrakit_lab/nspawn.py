"""Start and stop one ``systemd-nspawn --boot`` by PID (the host has no systemd/D-Bus).

A stop sends SIGTERM (nspawn turns it into a clean poweroff of the guest), waits, then
SIGKILLs the guest's PID 1 (which ends the whole PID namespace) and nspawn itself.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from infrakit_lab import daemon
from infrakit_lab.daemon import Proc
from infrakit_lab.errors import LabError
from infrakit_lab.proc import which

__all__ = ["Proc", "guest_init_pid", "start", "stop"]


def start(name: str, root: Path, log_path: Path) -> Proc:
    """Boot ``root`` in a new session (setsid) with a private veth network."""
    nspawn = which("systemd-nspawn")
    if nspawn is None:
        raise LabError("systemd-nspawn not found (install systemd-container)")
    return daemon.spawn(
        [
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
        ],
        log_path,
    )


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


def stop(proc: Proc, *, timeout: float = 30.0) -> None:
    """Power the guest off (SIGTERM to nspawn), then force (SIGKILL) after ``timeout``."""
    if not daemon.is_alive(proc):
        return
    daemon.send(proc.pid, signal.SIGTERM)
    if daemon.wait_exit(proc, timeout):
        return
    init = guest_init_pid(proc)  # SIGKILL of the guest's PID 1 ends its whole PID ns
    daemon.kill(proc, also=[init] if init else [])
