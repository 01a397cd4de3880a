"""One SSH connection per apply (paramiko), with host-key checking and streamed commands."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

# paramiko logs each failed handshake with a traceback from its transport thread; with no
# handler configured, Python's last-resort handler printed those before infrakit's one-line
# message. Infrakit reports every failure itself (SshError); INFRAKIT_SSH_DEBUG=1 keeps
# paramiko's own log on stderr for debugging.
if not os.environ.get("INFRAKIT_SSH_DEBUG"):
    logging.getLogger("paramiko").addHandler(logging.NullHandler())
    logging.getLogger("paramiko").propagate = False


class SshError(Exception):
    """Connection-level failure (unreachable, auth refused, host key mismatch, cut)."""


@dataclass(frozen=True)
class Target:
    host: str
    user: str
    port: int = 22
    identity: Path | None = None
    known_hosts: Path = field(default_factory=lambda: Path.home() / ".ssh" / "known_hosts")
    connect_timeout: float = 15.0


@dataclass(frozen=True)
class Result:
    exit_code: int  # -1 when the connection was cut before the command finished
    seconds: float
    last_line: str


class _AcceptNew(paramiko.MissingHostKeyPolicy):
    """Like OpenSSH's StrictHostKeyChecking=accept-new: learn unknown hosts, refuse changed ones."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        client.save_host_keys(str(self.path))


class Connection:
    """An open SSH session to one host; `run` streams a command's output line by line."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.client = paramiko.SSHClient()
        if target.known_hosts.exists():
            self.client.load_host_keys(str(target.known_hosts))
        self.client.set_missing_host_key_policy(_AcceptNew(target.known_hosts))
        self.sessions = 0
        self.bytes_uploaded = 0
        try:
            self._connect(target)
        except BaseException:
            # A refused or failed login leaves paramiko's transport (socket + thread) open:
            # close it, so no half-open connection outlives the attempt.
            self.client.close()
            raise
        transport = self.client.get_transport()
        assert transport is not None
        transport.set_keepalive(15)
        _no_delay(transport.sock)
        self.transport = transport

    def _connect(self, target: Target) -> None:
        try:
            self.client.connect(
                target.host,
                port=target.port,
                username=target.user,
                key_filename=str(target.identity) if target.identity else None,
                allow_agent=target.identity is None,
                look_for_keys=target.identity is None,
                timeout=target.connect_timeout,
                banner_timeout=target.connect_timeout,
                auth_timeout=target.connect_timeout,
            )
        except paramiko.BadHostKeyException as exc:
            raise SshError(f"host key of {target.host} changed (known_hosts: {target.known_hosts}); "
                           "refusing to connect") from exc
        except paramiko.AuthenticationException:
            raise SshError(f"{target.user}@{target.host}:{target.port}: authentication refused") from None
        except (OSError, paramiko.SSHException, EOFError) as exc:
            reason = str(exc) or type(exc).__name__
            raise SshError(f"{target.user}@{target.host}:{target.port}: cannot connect ({reason})") from None

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def upload(self, data: bytes, remote_path: str) -> None:
        self.sessions += 1
        with self.client.open_sftp() as sftp, sftp.open(remote_path, "wb") as handle:
            sftp.chmod(remote_path, 0o600)
            handle.write(data)
        self.bytes_uploaded += len(data)

    def run(self, command: str, stdin: str = "", on_line: Callable[[str, str], None] | None = None,
            timeout: float = 3600.0) -> Result:
        """Run `command`, feed `stdin`, stream (stream_name, line) to on_line; bounded by timeout."""
        self.sessions += 1
        start = time.monotonic()
        try:
            channel = self.transport.open_session()
            channel.exec_command(command)
            if stdin:
                channel.sendall(stdin.encode())
            channel.shutdown_write()
        except (paramiko.SSHException, OSError) as exc:
            raise SshError(f"cannot start command on {self.target.host}: {exc}") from exc
        buffers = {"stdout": b"", "stderr": b""}
        last = ""

        def emit(name: str, final: bool = False) -> None:
            nonlocal last
            *lines, rest = buffers[name].split(b"\n")
            if final and rest:
                lines, rest = [*lines, rest], b""
            buffers[name] = rest
            for raw in lines:
                line = raw.decode(errors="replace").rstrip("\r")
                if name == "stdout" and line.strip():
                    last = line
                if on_line:
                    on_line(name, line)

        while True:
            if time.monotonic() - start > timeout:
                channel.close()
                raise SshError(f"command did not finish within {timeout:.0f} s")
            select.select([channel], [], [], 1.0)
            got = False
            while channel.recv_ready():
                buffers["stdout"] += channel.recv(65536)
                got = True
            while channel.recv_stderr_ready():
                buffers["stderr"] += channel.recv_stderr(65536)
                got = True
            if got:
                emit("stdout")
                emit("stderr")
            if channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready():
                break
            if channel.closed and not got:
                break
            if not self.transport.is_active():
                break
        emit("stdout", final=True)
        emit("stderr", final=True)
        code = channel.recv_exit_status() if channel.exit_status_ready() else -1
        return Result(code, time.monotonic() - start, last)


def _no_delay(sock: object) -> None:
    """Send each SSH packet at once (TCP_NODELAY). With Nagle on, every new channel (one per
    step) waited for the delayed ACK of the previous channel's last packet: ~40 ms per
    command and per SFTP request, most of a no-op step's time."""
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def probe_login(target: Target) -> bool:
    """True when `target` accepts our key (used to decide whether to bootstrap)."""
    try:
        Connection(target).close()
    except SshError as exc:
        if "authentication refused" in str(exc):
            return False
        raise
    return True


def resolve_identity(path: str | None) -> Path | None:
    if not path:
        return None
    key = Path(path).expanduser()
    if not key.is_file():
        raise SshError(f"identity file {key} does not exist")
    return key


def ssh_answers(host: str, port: int, timeout: float = 3.0) -> bool:
    """True when an SSH server answers on host:port (its banner arrives within timeout)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(4) == b"SSH-"
    except OSError:
        return False
