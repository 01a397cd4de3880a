"""Many resources share one pooled connection; sshd refuses channels beyond its MaxSessions
("administratively prohibited"). A `pulumi up --refresh` reads every step at once: found in
CI as "connection cut while running a command (Unable to open channel.)" on a fresh host.

The server here is paramiko's own server side on loopback, enforcing a session limit the way
sshd does (refuse the channel open while `limit` sessions are open on the connection).
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import paramiko
import pytest

from components.remote import session
from components.remote.session import Access, RemoteError, key_text


@dataclass
class _Limits:
    limit: int
    open_now: int = 0
    most: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Server(paramiko.ServerInterface):
    def __init__(self, limits: _Limits) -> None:
        self.limits = limits

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        with self.limits.lock:
            if self.limits.open_now >= self.limits.limit:
                self.limits.refused += 1
                return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
            self.limits.open_now += 1
            self.limits.most = max(self.limits.most, self.limits.open_now)
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        def work() -> None:
            time.sleep(0.2)  # a read of a step's record takes a moment
            channel.sendall(b"ok " + command + b"\n")
            channel.send_exit_status(0)
            with self.limits.lock:
                self.limits.open_now -= 1
            channel.close()

        threading.Thread(target=work, daemon=True).start()
        return True


@pytest.fixture
def sshd() -> Iterator[tuple[int, _Limits, paramiko.PKey]]:
    host_key = paramiko.ECDSAKey.generate()
    limits = _Limits(limit=3)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(10)
    port = listener.getsockname()[1]
    transports: list[paramiko.Transport] = []

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        transport = paramiko.Transport(conn)
        transport.add_server_key(host_key)
        transports.append(transport)
        transport.start_server(server=_Server(limits))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, limits, host_key
    session.POOL.close_all()
    for transport in transports:
        transport.close()
    listener.close()
    thread.join(timeout=5)


def test_concurrent_commands_never_exceed_the_servers_session_limit(
    sshd: tuple[int, _Limits, paramiko.PKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, limits, host_key = sshd
    client_key = paramiko.ECDSAKey.generate()
    access = Access(
        host="127.0.0.1",
        port=port,
        user="ops",
        private_key=_pem(client_key),
        host_key=key_text(host_key),
        dial_attempts=1,
    )
    # below this test server's limit of 3, as the default is below sshd's MaxSessions 10
    monkeypatch.setattr(session, "CHANNELS_PER_CONNECTION", 2)
    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(lambda i: session.run(access, f"read {i}", timeout=20), range(12)))
    assert [o.exit_code for o in outcomes] == [0] * 12
    assert [o.output for o in outcomes] == [f"ok sudo -n read {i}\n" for i in range(12)]
    assert limits.refused == 0 and limits.most <= 2


def test_a_refused_channel_is_retried_then_reported_clearly(
    sshd: tuple[int, _Limits, paramiko.PKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server limit below ours (MaxSessions 1, say): the refusal is retried while the
    other channels finish, and a channel that never opens is named for what it is."""
    port, limits, host_key = sshd
    limits.limit = 1
    monkeypatch.setattr(session, "CHANNELS_PER_CONNECTION", 4)
    access = Access(
        host="127.0.0.1",
        port=port,
        user="ops",
        private_key=_pem(paramiko.ECDSAKey.generate()),
        host_key=key_text(host_key),
        dial_attempts=1,
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda i: session.run(access, f"read {i}", timeout=20), range(4)))
    assert [o.exit_code for o in outcomes] == [0] * 4, "retried until a session was free"
    assert limits.refused > 0, "the server did refuse channels (the test exercised the retry)"
    limits.limit = 0
    monkeypatch.setattr(session, "CHANNEL_WAIT", 1.0)
    with pytest.raises(RemoteError, match=r"refused a new session .*MaxSessions"):
        session.run(access, "read again", timeout=20)


def _pem(key: paramiko.PKey) -> str:
    out = io.StringIO()
    key.write_private_key(out)
    return out.getvalue()
