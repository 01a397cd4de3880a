"""What an nspawn lab host and a qemu lab VM share: their record, process and SSH access."""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from infrakit_lab import daemon
from infrakit_lab.network import sshd_answers
from infrakit_lab.proc import run

KEY_NAME = "lab_ed25519"
SSH_USER = "root"


class MachineRecord(Protocol):
    """The JSON-persisted facts of a machine (a dataclass in host.py / vm.py)."""

    name: str
    pid: int | None
    start_time: int | None


class LabMachine:
    """Base of LabHost and LabVM: `dir`, `address` and `ssh_port` come from the subclass."""

    ssh_user: str = SSH_USER
    connect_timeout: int = 10
    command_timeout: float = 120.0
    record_file: str = "machine.json"

    def __init__(self, record: Any, state: Path) -> None:
        self._rec = record
        self._state = state

    @property
    def name(self) -> str:
        return str(self._rec.name)

    @property
    def dir(self) -> Path:
        raise NotImplementedError

    @property
    def address(self) -> str:
        raise NotImplementedError

    @property
    def ssh_port(self) -> int:
        raise NotImplementedError

    @property
    def ssh_key_path(self) -> Path:
        return self._state / KEY_NAME

    @property
    def pid(self) -> int | None:
        """PID of the machine's process (systemd-nspawn or qemu) when running."""
        return self._rec.pid if self.is_running else None

    @property
    def is_running(self) -> bool:
        proc = self._proc()
        return proc is not None and daemon.is_alive(proc)

    def _proc(self) -> daemon.Proc | None:
        if self._rec.pid is None or self._rec.start_time is None:
            return None
        return daemon.Proc(self._rec.pid, self._rec.start_time)

    def _save(self) -> None:
        tmp = self.dir / f"{self.record_file}.tmp"
        tmp.write_text(json.dumps(asdict(self._rec), indent=2) + "\n")
        tmp.replace(self.dir / self.record_file)

    def ssh_reachable(self, timeout: float = 1.0) -> bool:
        """True when the guest's sshd sends its banner."""
        return sshd_answers(self.address, self.ssh_port, timeout=timeout)

    def _ssh_base(self) -> list[str]:
        return [
            "ssh", "-i", str(self.ssh_key_path), "-p", str(self.ssh_port),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        ]

    def ssh_argv(self, *command: str) -> list[str]:
        """``ssh`` argv running ``command`` in the guest as root with the lab key.

        One argument is a shell command line (``"systemctl is-active ssh"``), as with
        ``ssh HOST 'cmd'``; several are an argv, each quoted (``"sh", "-c", script``).
        """
        remote = list(command) if len(command) <= 1 else [shlex.join(command)]
        options = ["LogLevel=ERROR", "BatchMode=yes", f"ConnectTimeout={self.connect_timeout}"]
        return [*self._ssh_base(), *(a for o in options for a in ("-o", o)), f"{self.ssh_user}@{self.address}", *remote]

    def ssh_command(self) -> str:
        """The interactive SSH command line, for humans."""
        return shlex.join([*self._ssh_base(), f"{self.ssh_user}@{self.address}"])

    def ssh(self, *command: str, timeout: float | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in the guest over SSH; output captured as text."""
        return run(self.ssh_argv(*command), timeout=timeout or self.command_timeout, check=check)
