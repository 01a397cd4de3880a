"""The SSH client's failures: one clean line each, and no connection left open.

A local paramiko server (loopback only) stands in for sshd: it refuses every key, or sends
garbage instead of a banner.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import paramiko
import pytest

from infrakit.apply.ssh import SshError, Target, probe_login

LAB_KEY = Path(__file__).resolve().parents[3] / "infrakit_lab" / "insecure_key" / "lab_admin_ed25519"


class RefuseAll(paramiko.ServerInterface):
    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_FAILED


class Server:
    """Accepts connections on 127.0.0.1; `mode` "refuse" runs an SSH server that refuses
    every key, "garbage" answers with bytes that are not an SSH banner. Records when each
    client connection is closed by the client."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed_by_client = threading.Event()
        self.host_key = paramiko.Ed25519Key.from_private_key_file(str(LAB_KEY))
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        conn, _ = self.listener.accept()
        if self.mode == "garbage":
            conn.sendall(b"\x00\xffthis is not ssh\r\n" * 50)
            conn.close()
            return
        transport = paramiko.Transport(conn)
        transport.add_server_key(self.host_key)
        transport.start_server(server=RefuseAll())
        while transport.is_active():  # until the client hangs up
            transport.join(0.05)
        self.closed_by_client.set()


@pytest.fixture
def known_hosts(tmp_path: Path) -> Path:
    return tmp_path / "known_hosts"


@pytest.fixture
def key(tmp_path: Path) -> Path:
    """A client key (the published lab key: it opens nothing here)."""
    path = tmp_path / "id_ed25519"
    path.write_bytes(LAB_KEY.read_bytes())
    path.chmod(0o600)
    return path


def test_a_refused_login_probe_closes_its_connection(known_hosts: Path, key: Path) -> None:
    """A refused probe left paramiko's transport open; once in 15 demo runs the next
    connection then met garbage before its banner."""
    server = Server("refuse")
    assert probe_login(Target("127.0.0.1", "ops", server.port, key, known_hosts, connect_timeout=5)) is False
    assert server.closed_by_client.wait(5), "the probe's connection is still open"


def test_a_connection_failure_is_one_clean_line(
    known_hosts: Path, key: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """paramiko's transport thread logged a traceback before infrakit's own message."""
    server = Server("garbage")
    with pytest.raises(SshError) as info:
        probe_login(Target("127.0.0.1", "ops", server.port, key, known_hosts, connect_timeout=5))
    assert str(info.value).startswith(f"ops@127.0.0.1:{server.port}: cannot connect (")
    assert "\n" not in str(info.value) and info.value.__cause__ is None
    _out, err = capfd.readouterr()
    assert "Traceback" not in err and err == "", err


def test_nothing_listening_is_one_clean_line(known_hosts: Path, key: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SshError, match=rf"^ops@127\.0\.0\.1:{port}: cannot connect \(.*(refused|Unable to connect)"):
        probe_login(Target("127.0.0.1", "ops", port, key, known_hosts, connect_timeout=5))
