#!/usr/bin/python3
"""TEST STAND-IN, not an Ethereum client. Installed under the real clients' names (geth,
lighthouse, mev-boost) by the lab test, because real client releases cannot be downloaded
on the build machine. It starts from the same unit with the same flags, answers the same
health endpoints with canned data, and implements just enough of lighthouse's `account`
commands for `ik-eth-validator` to import keys and slashing history.

    geth       JSON-RPC eth_syncing / net_peerCount / web3_clientVersion on --http.addr:--http.port,
               an engine socket on --authrpc.addr:--authrpc.port, P2P TCP on --port
    lighthouse beacon_node: /eth/v1/node/{syncing,peer_count,health,version} on --http-address:--http-port
               validator_client: runs only if keys were imported (like the real one), metrics port;
               exits 1 like lighthouse's doppelganger shutdown once <datadir>/.standin-doppelganger exists
               account validator import | slashing-protection import|export
    mev-boost  /eth/v1/builder/status on -addr
"""

import http.server
import json
import os
import shutil
import signal
import socket
import sys
import threading
import time

VERSION = "@VERSION@"
HOODI_ROOT = "0x212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f"


def flags(argv):
    out, i = {}, 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-"):
            key = arg.lstrip("-")
            if "=" in key:
                key, value = key.split("=", 1)
            elif i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                value = argv[i + 1]
                i += 1
            else:
                value = True
            out[key] = value
        i += 1
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}  # noqa: RUF012 - replaced per server in serve()

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        code, body = self.routes.get(self.path.split("?")[0], (404, {"message": "stand-in: not found"}))
        self.reply(code, body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self.reply(400, {"error": "bad json"})
        results = {"eth_syncing": False, "net_peerCount": "0x0",
                   "eth_getBlockByNumber": {"number": "0x1", "timestamp": hex(int(time.time()))},
                   "web3_clientVersion": "Geth-STAND-IN/v" + VERSION}
        if request.get("method") in results:
            return self.reply(200, {"jsonrpc": "2.0", "id": request.get("id"), "result": results[request["method"]]})
        return self.reply(200, {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": -32601}})


def serve(host, port, routes=None):
    handler = type("H", (Handler,), {"routes": routes or {}})
    server = http.server.ThreadingHTTPServer((host, int(port)), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def listen_tcp(host, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, int(port)))
    sock.listen(16)

    def accept():
        while True:
            conn, _ = sock.accept()
            conn.close()

    threading.Thread(target=accept, daemon=True).start()


def wait(doppelganger=None):
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"stand-in {os.path.basename(sys.argv[0])} {VERSION} running: {' '.join(sys.argv[1:])}", flush=True)
    while not stop.wait(0.5):
        if doppelganger and os.path.exists(doppelganger):
            print("stand-in: Doppelganger detected! Shutting down (exit 1, as lighthouse)", flush=True)
            sys.exit(1)
    print("stand-in stopping", flush=True)


def geth(f):
    for key in ("datadir", "authrpc.jwtsecret"):
        if key not in f:
            sys.exit(f"stand-in geth: --{key} is required")
    with open(f["authrpc.jwtsecret"]) as handle:  # the real client fails without the JWT too
        handle.read()
    serve(f["http.addr"], f["http.port"])
    serve(f["authrpc.addr"], f["authrpc.port"])
    listen_tcp("0.0.0.0", f.get("port", 30303))  # noqa: S104 - P2P is public, like the real client
    if f.get("metrics"):
        serve(f["metrics.addr"], f["metrics.port"], {"/debug/metrics/prometheus": (200, {})})
    wait()


def beacon(f):
    with open(f["execution-jwt"]) as handle:
        handle.read()
    routes = {
        "/eth/v1/node/syncing": (200, {"data": {"head_slot": "1", "sync_distance": "0", "is_syncing": False,
                                                "is_optimistic": False, "el_offline": False}}),
        "/eth/v1/node/peer_count": (200, {"data": {"connected": "0", "disconnected": "0"}}),
        "/eth/v1/node/health": (200, None),
        "/eth/v1/node/version": (200, {"data": {"version": "Lighthouse-STAND-IN/v" + VERSION}}),
    }
    serve(f["http-address"], f["http-port"], routes)
    listen_tcp("0.0.0.0", f.get("port", 9000))  # noqa: S104 - P2P is public
    if f.get("metrics"):
        serve(f["metrics-address"], f["metrics-port"], {"/metrics": (200, {})})
    wait()


def validator(f):
    if not os.path.isdir(os.path.join(f["datadir"], "validators")):
        sys.exit("stand-in lighthouse vc: no validators imported (the real client refuses to start too)")
    if f.get("metrics"):
        serve(f["metrics-address"], f["metrics-port"], {"/metrics": (200, {})})
    wait(os.path.join(f["datadir"], ".standin-doppelganger"))


def account(argv):
    f = flags(argv)
    datadir = f["datadir"]
    if argv[:2] == ["validator", "import"]:
        with open(f["password-file"]) as handle:
            if not handle.read():
                sys.exit("empty password")
        for name in sorted(os.listdir(f["directory"])):
            with open(os.path.join(f["directory"], name)) as handle:
                pubkey = "0x" + json.load(handle)["pubkey"].removeprefix("0x")
            os.makedirs(os.path.join(datadir, "validators", pubkey), mode=0o700, exist_ok=True)
            target = os.path.join(datadir, "validators", pubkey, "voting-keystore.json")
            shutil.copy(os.path.join(f["directory"], name), target)
        return
    if argv[:2] == ["validator", "slashing-protection"]:
        direction, path = argv[2], argv[3]
        db = os.path.join(datadir, "validators", "slashing_protection.json")
        if direction == "import":
            os.makedirs(os.path.dirname(db), mode=0o700, exist_ok=True)
            shutil.copy(path, db)
        else:
            data = {"metadata": {"interchange_format_version": "5", "genesis_validators_root": HOODI_ROOT}, "data": []}
            if os.path.exists(db):
                with open(db) as handle:
                    data = json.load(handle)
            with open(path, "w") as handle:
                json.dump(data, handle)
        return
    sys.exit(f"stand-in lighthouse account: unsupported {argv}")


def mev_boost(f):
    host, port = f["addr"].rsplit(":", 1)
    serve(host, port, {"/eth/v1/builder/status": (200, None)})
    wait()


def main():
    name = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    if args[:1] == ["--version"]:
        print(f"{name} STAND-IN {VERSION}")
        return
    if name == "geth":
        return geth(flags(args))
    if name == "mev-boost":
        return mev_boost(flags(args))
    if name == "lighthouse":
        if args[:1] == ["beacon_node"]:
            return beacon(flags(args[1:]))
        if args[:1] == ["validator_client"]:
            return validator(flags(args[1:]))
        if args[:1] == ["account"]:
            return account(args[1:])
    sys.exit(f"stand-in {name}: unsupported command {args}")


if __name__ == "__main__":
    main()
