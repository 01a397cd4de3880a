"""SSH into a lab machine (nspawn host or qemu VM) as root with the lab key, via OpenSSH."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from infrakit.lab.network import sshd_answers
from infrakit.lab.proc import run


class SshAccess:
    """Mixin: needs `address`, `ssh_port`, `ssh_user`, `ssh_key_path` on the class."""

    ssh_user: str
    connect_timeout: int = 10
    command_timeout: float = 120.0

    @property
    def address(self) -> str:
        raise NotImplementedError

    @property
    def ssh_port(self) -> int:
        raise NotImplementedError

    @property
    def ssh_key_path(self) -> Path:
        raise NotImplementedError

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
