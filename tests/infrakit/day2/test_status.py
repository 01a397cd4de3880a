"""`infrakit status`: the status server's answer read on the host, shown as tables, with an
exit code a script can use. The fetch script runs here against a local HTTP server."""

from __future__ import annotations

import http.server
import io
import subprocess
import threading
from collections.abc import Iterator

import pytest
from rich.console import Console

from infrakit.day2 import status

DOC = {
    "stack": "lab",
    "chain": "none",
    "role": "host",
    "host": "ux1",
    "generated_at": "2026-12-02T17:00:00Z",
    "status": "OK",
    "healthy": True,
    "checks": [
        {"name": "sshd", "kind": "systemd", "status": "OK", "summary": "active", "since": 1000.0},
        {"name": "chrony", "kind": "systemd", "status": "SKIPPED", "summary": "condition", "since": 0},
    ],
    "services": [
        {"unit": "infrakit-status.service", "state": "active", "active": True, "active_seconds": 4000.0},
        {"unit": "chrony.service", "state": "condition-skipped", "active": False, "active_seconds": None},
    ],
    "disks": [{"path": "/", "used_ratio": 0.25, "avail_bytes": 30e9}, {"path": "/data", "error": "No such file"}],
    "versions": {"os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1", "packages": {"fail2ban": "1.0.2-2"}},
    "last_apply": {"time": "2026-12-02T16:59:00Z", "step": "monitoring_units"},
}


def shown(doc: dict[str, object]) -> tuple[str, int]:
    screen = io.StringIO()
    code = status.show(doc, Console(file=screen, width=120, color_system=None))
    return screen.getvalue(), code


def test_healthy_host_table_and_exit_0() -> None:
    text, code = shown(DOC)
    assert code == status.EXIT_HEALTHY
    assert "lab (none/host) on ux1: OK" in text
    for needle in (
        "sshd",
        "infrakit-status.service",
        "1.1h",
        "condition-skipped",
        "25%",
        "No such file",
        "fail2ban",
        "1.0.2-2",
        "monitoring_units",
    ):
        assert needle in text, needle


@pytest.mark.parametrize("overall", ["WARN", "CRIT", "UNKNOWN"])
def test_unhealthy_host_exits_1(overall: str) -> None:
    _, code = shown({**DOC, "status": overall, "healthy": False})
    assert code == status.EXIT_UNHEALTHY


def test_healthy_flag_and_status_must_agree() -> None:
    assert status.exit_code({**DOC, "healthy": "yes"}) == status.EXIT_UNHEALTHY


class _Server(http.server.BaseHTTPRequestHandler):
    answer: tuple[int, bytes] = (200, b"{}")

    def do_GET(self) -> None:
        code, body = self.answer
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.HTTPServer]:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Server)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def fetch(url: str) -> tuple[int, str]:
    command = status.fetch_command(url)
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30, check=False)
    return done.returncode, done.stdout


def test_fetch_on_the_host(server: http.server.HTTPServer) -> None:
    url = status.status_url("127.0.0.1", server.server_address[1])
    _Server.answer = (200, b'{"status": "OK", "healthy": true}')
    code, body = fetch(url)
    assert status.parse(code, body, url) == {"status": "OK", "healthy": True}
    _Server.answer = (503, b'{"status": "starting"}')
    code, body = fetch(url)
    with pytest.raises(status.StatusUnavailableError, match="is starting"):
        status.parse(code, body, url)
    server.shutdown()
    server.server_close()
    code, body = fetch(url)
    with pytest.raises(status.StatusUnavailableError, match="does not answer"):
        status.parse(code, body, url)


def test_status_url_for_any_listen_address() -> None:
    assert status.status_url("127.0.0.1", 9108) == "http://127.0.0.1:9108/status"
    assert status.status_url("0.0.0.0", 9108) == "http://127.0.0.1:9108/status"  # noqa: S104
    assert status.status_url("::1", 9108) == "http://[::1]:9108/status"
