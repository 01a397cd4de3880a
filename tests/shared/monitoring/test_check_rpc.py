"""check_rpc.sh against a local fake JSON-RPC node: Nagios codes, thresholds, failures."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from infrakit.plan.evm_checks import evm_sync_check
from tests.shared.conftest import REPO, clean_env
from tests.shared.monitoring.fakes import NodeState, node_handler, serve

SCRIPT = REPO / "shared" / "monitoring" / "check_rpc.sh"


@pytest.fixture
def node() -> Iterator[tuple[str, NodeState]]:
    state = NodeState()
    server = serve(node_handler(state), 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def check(tmp: Path, **env: str) -> tuple[int, str]:
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=30, check=False,
                            env=clean_env(tmp, **env))
    lines = result.stdout.splitlines()
    assert lines[-1] == "infrakit: step=check_rpc changed=0", result.stdout + result.stderr
    return result.returncode, lines[0]


def test_peers_threshold_is_a_lower_bound(tmp_path: Path, node: tuple[str, NodeState]) -> None:
    url, state = node
    env = {"CHECK_URL": url, "CHECK_NAME": "peers", "CHECK_RPC_METHOD": "net_peerCount", "CHECK_QUERY": ".result|hex",
           "CHECK_WARN": "5", "CHECK_CRIT": "1", "CHECK_BOUND": "min"}
    assert check(tmp_path, **env) == (0, "peers OK - value 12 (warn min 5 crit min 1) | value=12;5;1")
    state.peers = 3
    assert check(tmp_path, **env)[0] == 1
    state.peers = 0
    code, line = check(tmp_path, **env)
    assert code == 2 and line.startswith("peers CRIT - value 0")


def test_sync_and_head_age(tmp_path: Path, node: tuple[str, NodeState]) -> None:
    url, state = node
    sync = {"CHECK_URL": url, "CHECK_RPC_METHOD": "eth_syncing", "CHECK_WARN": "8", "CHECK_CRIT": "64",
            "CHECK_QUERY": evm_sync_check("s", url).query}
    assert check(tmp_path, **sync)[0] == 0
    state.syncing = [100, 120]
    code, line = check(tmp_path, **sync)
    assert code == 1 and "value 20" in line
    head = {"CHECK_URL": url, "CHECK_RPC_METHOD": "eth_getBlockByNumber", "CHECK_RPC_PARAMS": '["latest", false]',
            "CHECK_QUERY": ".result.timestamp|age", "CHECK_WARN": "60", "CHECK_CRIT": "300"}
    assert check(tmp_path, **head)[0] == 0
    state.head_age = 1000
    assert check(tmp_path, **head)[0] == 2


def test_rpc_error_expect_and_plain_body(tmp_path: Path, node: tuple[str, NodeState]) -> None:
    url, state = node
    body = '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}'
    base = {"CHECK_URL": url, "CHECK_BODY": body, "CHECK_HEADERS": "Content-Type: application/json"}
    assert check(tmp_path, **base, CHECK_EXPECT='"result"')[0] == 0
    assert check(tmp_path, **base, CHECK_EXPECT='"nope"')[0] == 2
    state.error = "boom"
    code, line = check(tmp_path, **base)
    assert code == 2 and "JSON-RPC error" in line and "boom" in line


def test_connection_and_http_failures_are_critical(tmp_path: Path) -> None:
    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = serve(NotFound, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code, line = check(tmp_path, CHECK_URL=f"http://127.0.0.1:{server.server_address[1]}/x?token=secret")
        assert code == 2 and "HTTP 404" in line and "secret" not in line
    finally:
        server.shutdown()
        server.server_close()
    code, line = check(tmp_path, CHECK_URL="http://127.0.0.1:1/", CHECK_TIMEOUT="2")
    assert code == 2 and "request failed" in line


def test_bad_input_and_non_numbers_are_unknown(tmp_path: Path, node: tuple[str, NodeState]) -> None:
    url, _ = node
    assert check(tmp_path)[0] == 3
    assert check(tmp_path, CHECK_URL=url, CHECK_WARN="many")[0] == 3
    code, line = check(tmp_path, CHECK_URL=url, CHECK_RPC_METHOD="eth_blockNumber", CHECK_QUERY=".id|tostring + \"x\"")
    assert code == 3 and "not a number" in line
    assert check(tmp_path, CHECK_URL=url, CHECK_HEADERS="no colon here", CHECK_BODY="{}")[0] == 3
