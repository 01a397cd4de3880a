"""SSH for the step provider: one pooled connection per host, host keys pinned, bootstrap login.

The provider process lives for one `pulumi preview/up/refresh`; every resource of a host
shares one connection (each step is a new channel on it), so a cold converge dials once and
a no-op `pulumi up` does not dial at all.

Host keys: a key pinned in the stack (`host.hostKey`) or recorded in state on first use must
match, or the connection stops with a message saying what to do. Nothing is written to any
known_hosts file.

Bootstrap: a host whose admin user does not exist yet (first converge of an existing server)
is reached as `bootstrapUser` (typically root) after the admin login is refused; the first
refused login is the only failed attempt, never a retry loop that fail2ban could count.

Sessions: sshd refuses a channel beyond its MaxSessions (default 10) on one connection, and a
`pulumi up --refresh` reads every step at once; at most CHANNELS_PER_CONNECTION channels are
open per connection, and a refused channel open (a lower MaxSessions) is retried for up to
CHANNEL_WAIT seconds while the others finish.

Port migration: an `Access` with a `fallback_port` (access.previousSshPort) dials its `port`
only when sshd answers there (an SSH banner within PROBE_TIMEOUT), else the fallback port;
a connection on the fallback port moves to `port` as soon as sshd answers there. Without a
fallback only `port` is dialled: the Host resource refuses to go on when it does not answer,
so no step can drop the old port before the new one works.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import io
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, replace

import paramiko

CONNECT_TIMEOUT = 15.0
HOST_KEY_ALGORITHMS = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
)
# A fresh cloud server needs time before sshd answers: dial (not login) retries, bounded.
DIAL_ATTEMPTS = 40
DIAL_PAUSE = 15.0
PROBE_TIMEOUT = 3.0
PROBE_EVERY = 10.0  # while on the fallback port: how often to look at the new port again
CHANNELS_PER_CONNECTION = 4  # below sshd's default MaxSessions 10 (hardening keeps >= 1, default 10)
CHANNEL_WAIT = 60.0  # how long a refused channel open is retried


class RemoteError(Exception):
    """A failure the operator must see as one clean line (no traceback)."""


@dataclass(frozen=True)
class Access:
    host: str
    port: int
    user: str
    bootstrap_user: str = ""
    host_key: str = ""  # "ssh-ed25519 AAAA..." pinned; "" = trust on first use, recorded in state
    private_key: str = ""  # PEM/OpenSSH text; "" = the SSH agent
    dial_attempts: int = DIAL_ATTEMPTS
    fallback_port: int = 0  # during a port migration: the old port, used while `port` does not answer

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def key_text(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


def fingerprint(text: str) -> str:
    """OpenSSH-style SHA256 fingerprint of a "type base64" public key."""
    blob = base64.b64decode(text.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


class _Pinned(paramiko.MissingHostKeyPolicy):
    """Accept only the pinned key (or, with none pinned, record the one offered)."""

    def __init__(self, access: Access) -> None:
        self.access = access
        self.seen = ""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        offered = key_text(key)
        self.seen = offered
        pinned = self.access.host_key
        if pinned and pinned.split()[:2] != offered.split()[:2]:
            raise RemoteError(
                f"host key of {self.access.host}:{self.access.port} is {fingerprint(offered)}, "
                f"expected {fingerprint(pinned)}: refusing to connect. If the host was rebuilt, "
                "check the new key out of band, then set infrakit:host.hostKey (or, for a key "
                "recorded on first use, run `pulumi up --refresh` after `pulumi state` review)"
            )


def _load_key(text: str) -> paramiko.PKey:
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    raise RemoteError("infrakit:sshPrivateKey is not an OpenSSH/PEM private key paramiko can read")


def answers(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> bool:
    """True when an SSH server answers on host:port (its banner arrives within timeout)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(4) == b"SSH-"
    except OSError:
        return False


Pooled = tuple[paramiko.SSHClient, str, str, int]  # client, login user, offered host key, port


def _active(entry: Pooled | None) -> bool:
    transport = entry[0].get_transport() if entry else None
    return transport is not None and transport.is_active()


class _Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: dict[tuple[str, int, int, str, str], Pooled] = {}
        self.probed: dict[tuple[str, int, int, str, str], float] = {}

    def get(self, access: Access, *, any_port: bool = False) -> Pooled:
        """(client, login user, offered host key, port) for access, dialling once per process.

        any_port: reuse a live connection to the same host, user and key on any port (a
        deleted Step's access is the one it was created with, possibly an old port)."""
        who = hashlib.sha256(access.private_key.encode()).hexdigest()
        key = (access.host, access.port, access.fallback_port, access.user, who)
        with self.lock:
            found = self.clients.get(key)
            if any_port and not _active(found):
                found = next(
                    (
                        c
                        for k, c in self.clients.items()
                        if (k[0], k[3], k[4]) == (access.host, access.user, who) and _active(c)
                    ),
                    None,
                )
            if found and _active(found):
                if found[3] != access.port and access.fallback_port and self._new_port_answers(key, access):
                    try:  # the migration's new port answers now: move there
                        moved = _connect(replace(access, fallback_port=0))
                    except RemoteError:
                        return found
                    found[0].close()
                    self.clients[key] = moved
                    return moved
                return found
            made = _connect(access)
            self.clients[key] = made
            return made

    def _new_port_answers(self, key: tuple[str, int, int, str, str], access: Access) -> bool:
        now = time.monotonic()
        if now - self.probed.get(key, -PROBE_EVERY) < PROBE_EVERY:
            return False
        self.probed[key] = now
        return answers(access.host, access.port)

    def close_all(self) -> None:
        with self.lock:
            for client, _, _, _ in self.clients.values():
                client.close()
            self.clients.clear()


POOL = _Pool()
atexit.register(POOL.close_all)

if os.environ.get("INFRAKIT_SSH_LOG"):  # paramiko's own log, for a connection problem (no secrets)
    paramiko.util.log_to_file(os.environ["INFRAKIT_SSH_LOG"], level=logging.DEBUG)


def _dial(access: Access, user: str, agent_too: bool = False) -> tuple[paramiko.SSHClient, str]:
    """Connect as `user` with the configured key (else the agent's keys); agent_too adds the
    agent's keys after the configured one (the bootstrap login: root's key is not the admin's)."""
    pkey = _load_key(access.private_key) if access.private_key else None
    # With a pinned key, the server must present that type (it may hold others too).
    pinned_type = access.host_key.split()[0] if access.host_key else ""
    allowed = {"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"} if pinned_type == "ssh-rsa" else {pinned_type}
    disabled = {"keys": [t for t in HOST_KEY_ALGORITHMS if t not in allowed]} if pinned_type else None
    for attempt in range(1, max(access.dial_attempts, 1) + 1):
        client = paramiko.SSHClient()
        policy = _Pinned(access)
        client.set_missing_host_key_policy(policy)
        try:
            client.connect(
                access.host,
                port=access.port,
                username=user,
                pkey=pkey,
                allow_agent=pkey is None or agent_too,
                look_for_keys=False,
                timeout=CONNECT_TIMEOUT,
                banner_timeout=CONNECT_TIMEOUT,
                auth_timeout=CONNECT_TIMEOUT,
                disabled_algorithms=disabled,
            )
        except paramiko.AuthenticationException:
            client.close()
            raise
        except RemoteError:
            client.close()
            raise
        except (OSError, paramiko.SSHException) as exc:
            client.close()
            if attempt >= access.dial_attempts:
                raise RemoteError(
                    f"{user}@{access.host}:{access.port}: cannot connect after {attempt} attempt(s) ({exc})"
                ) from None
            time.sleep(DIAL_PAUSE)
            continue
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(15)
        sock = transport.sock
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client, policy.seen
    raise RemoteError(f"{user}@{access.host}:{access.port}: cannot connect")  # pragma: no cover


def _how(access: Access) -> str:
    return (
        "the key from infrakit:sshPrivateKey, then the SSH agent's for the bootstrap user"
        if access.private_key
        else "the SSH agent's keys"
    )


def _connect(access: Access) -> Pooled:
    port = access.port
    if access.fallback_port and access.fallback_port != access.port and not answers(access.host, access.port):
        port = access.fallback_port  # the migration's new port does not answer yet
    return (*_login(replace(access, port=port, fallback_port=0)), port)


def _login(access: Access) -> tuple[paramiko.SSHClient, str, str]:
    try:
        client, seen = _dial(access, access.user)
        return client, access.user, seen
    except paramiko.AuthenticationException:
        if not access.bootstrap_user or access.bootstrap_user == access.user:
            raise RemoteError(f"{access.label}: login refused ({_how(access)} not accepted)") from None
    try:
        client, seen = _dial(access, access.bootstrap_user, agent_too=True)
    except paramiko.AuthenticationException:
        raise RemoteError(
            f"{access.label}: login refused, and as bootstrap user {access.bootstrap_user} too ({_how(access)})"
        ) from None
    return client, access.bootstrap_user, seen


_GATES: dict[int, threading.BoundedSemaphore] = {}
_GATES_LOCK = threading.Lock()


def _gate(transport: paramiko.Transport) -> threading.BoundedSemaphore:
    with _GATES_LOCK:
        gate = _GATES.get(id(transport))
        if gate is None:
            gate = _GATES[id(transport)] = threading.BoundedSemaphore(max(CHANNELS_PER_CONNECTION, 1))
        return gate


def _open_channel(access: Access, transport: paramiko.Transport) -> paramiko.Channel:
    """A new session channel; a refusal by the server (its MaxSessions) is retried, bounded."""
    deadline = time.monotonic() + CHANNEL_WAIT
    pause = 0.1
    while True:
        try:
            return transport.open_session()
        except paramiko.SSHException as exc:  # ChannelException, or "Unable to open channel."
            # (paramiko hands a refusal to whichever thread asks first: both mean "refused")
            if not transport.is_active():
                raise RemoteError(f"{access.label}: connection lost while opening a session ({exc})") from None
            if time.monotonic() + pause > deadline:
                reason = exc.text if isinstance(exc, paramiko.ChannelException) else str(exc)
                raise RemoteError(
                    f"{access.label}: the server refused a new session for {CHANNEL_WAIT:.0f} s ({reason}); "
                    "is sshd's MaxSessions (infrakit:hardening.ssh.maxSessions) below "
                    f"{CHANNELS_PER_CONNECTION}, or another client holding its sessions?"
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


@dataclass
class Outcome:
    exit_code: int
    output: str  # stdout and stderr, interleaved as received
    seconds: float


def run(
    access: Access,
    command: str,
    *,
    stdin: str = "",
    as_root: bool = True,
    timeout: float = 3600.0,
    any_port: bool = False,
) -> Outcome:
    """Run `command` (as root: via `sudo -n` when logged in as another user)."""
    client, user, _, _ = POOL.get(access, any_port=any_port)
    if as_root and user != "root":
        command = f"sudo -n {command}"
    start = time.monotonic()
    transport = client.get_transport()
    if transport is None:
        raise RemoteError(f"{access.label}: connection lost")
    with _gate(transport):
        channel = _open_channel(access, transport)
        try:
            channel.set_combine_stderr(True)
            channel.settimeout(timeout)
            channel.exec_command(command)
            if stdin:
                channel.sendall(stdin.encode())
            channel.shutdown_write()
            chunks = []
            while True:
                data = channel.recv(65536)
                if not data:
                    break
                chunks.append(data)
            code = channel.recv_exit_status()
        except (OSError, paramiko.SSHException) as exc:
            raise RemoteError(f"{access.label}: connection cut while running a command ({exc})") from None
        finally:
            channel.close()
    return Outcome(code, b"".join(chunks).decode(errors="replace"), time.monotonic() - start)


def upload(access: Access, data: bytes, remote_path: str) -> None:
    client, _, _, _ = POOL.get(access)
    transport = client.get_transport()
    if transport is None:
        raise RemoteError(f"{access.label}: connection lost")
    with _gate(transport):
        channel = _open_channel(access, transport)
        try:
            channel.invoke_subsystem("sftp")
            with paramiko.SFTPClient(channel) as sftp, sftp.open(remote_path, "wb") as handle:
                sftp.chmod(remote_path, 0o600)
                handle.write(data)
        except (OSError, paramiko.SSHException) as exc:
            raise RemoteError(f"{access.label}: upload to {remote_path} failed ({exc})") from None
        finally:
            channel.close()


def offered_host_key(access: Access) -> str:
    return POOL.get(access)[2]


def login_user(access: Access) -> str:
    return POOL.get(access)[1]


def login_port(access: Access) -> int:
    """The port the connection uses (the fallback port while a migration's new one is silent)."""
    return POOL.get(access)[3]
