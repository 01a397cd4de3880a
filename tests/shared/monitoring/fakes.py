"""Test doubles over HTTP, standard library only, so they also run inside a lab guest.

    python3 fakes.py node PORT           a JSON-RPC node (eth_syncing, net_peerCount,
                                         eth_blockNumber, eth_getBlockByNumber); the call
                                         {"method": "fake_set", "params": {...}} changes its
                                         answers: peers, syncing (false or [current, highest]),
                                         head_age (seconds), error (a JSON-RPC error message)
    python3 fakes.py receiver PORT FILE  a webhook receiver: each POST body (JSON) is appended
                                         to FILE as one line {"path": ..., "body": ...}

Both bind 127.0.0.1 only.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class NodeState:
    def __init__(self) -> None:
        self.peers = 12
        self.syncing: bool | list[int] = False
        self.head_age = 2.0
        self.error = ""
        self.lock = threading.Lock()

    def answer(self, method: str, params: Any) -> tuple[Any, dict[str, Any] | None]:  # noqa: PLR0911
        with self.lock:
            if method == "fake_set":
                for key, value in dict(params).items():
                    setattr(self, key, value)
                return True, None
            if self.error:
                return None, {"code": -32000, "message": self.error}
            if method == "net_peerCount":
                return hex(int(self.peers)), None
            if method == "eth_syncing":
                if not self.syncing:
                    return False, None
                current, highest = self.syncing  # type: ignore[misc]
                return {"startingBlock": "0x0", "currentBlock": hex(current), "highestBlock": hex(highest)}, None
            if method == "eth_blockNumber":
                return hex(1000), None
            if method == "eth_getBlockByNumber":
                return {"number": hex(1000), "timestamp": hex(int(time.time() - float(self.head_age)))}, None
            return None, {"code": -32601, "message": f"method {method} not found"}


def node_handler(state: NodeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                request = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                request = {}
            result, error = state.answer(str(request.get("method")), request.get("params") or [])
            reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id", 1)}
            if error:
                reply["error"] = error
            else:
                reply["result"] = result
            body = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def receiver_handler(path: str) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            with lock, open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"path": self.path, "body": body,
                                      "content_type": self.headers.get("Content-Type")}) + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def serve(handler: type[BaseHTTPRequestHandler], port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "node":
        serve(node_handler(NodeState()), int(argv[1])).serve_forever()
    elif len(argv) >= 3 and argv[0] == "receiver":
        serve(receiver_handler(argv[2]), int(argv[1])).serve_forever()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
