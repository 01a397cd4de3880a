"""A TEST STAND-IN for Category Labs' `monad` Debian package. It is NOT Monad.

Binaries and unit names match the real package's (monad-node, monad, monad-rpc, monad-mpt,
monad-keystore; monad-bft/-execution/-rpc/-mpt/-cruft units, otelcol, set-hugepages) and so
does its layout (/etc/monad/env, /var/lib/monad, DynamicUser units in group monad, the
sysusers.d/tmpfiles.d files and postinst steps), so InfraKit's steps meet what they meet on a
real server. The programs only imitate: monad-rpc answers eth_blockNumber with a counter,
monad-keystore writes a JSON file that records a salted password hash, monad-node checks its
keystores and node.toml and then idles. See adapters/monad/SOURCES.md.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

PACKAGE = "monad"
DESCRIPTION = "TEST STAND-IN for Category Labs' monad package (InfraKit lab): NOT Monad"

KEYSTORE = r'''#!/usr/bin/python3
"""monad-keystore TEST STAND-IN: create/recover like the real CLI, no real cryptography."""
import argparse, hashlib, json, os, secrets, sys
p = argparse.ArgumentParser(prog="monad-keystore")
p.add_argument("mode", choices=["create", "recover"])
p.add_argument("--keystore-path", required=True)
p.add_argument("--password", required=True)
p.add_argument("--key-type", choices=["secp", "bls"])
a = p.parse_args()
if a.mode == "create":
    ikm = secrets.token_bytes(32)
    salt = secrets.token_hex(16)
    print("It is recommended to generate key in air-gapped machine to be secure.")
    print("Keep your IKM secure: " + ikm.hex())
    pub = ("02" if a.key_type == "secp" else "b0") + hashlib.sha256(ikm).hexdigest()
    if a.key_type:
        print(("Secp" if a.key_type == "secp" else "BLS") + " public key: " + pub)
    with open(a.keystore_path, "x") as f:
        json.dump({"standin": True, "salt": salt, "pubkey": pub,
                   "check": hashlib.sha256((salt + a.password).encode()).hexdigest()}, f)
    print("Successfully generated keystore file.")
else:
    print("Recovering secret from keystore file...")
    try:
        data = json.load(open(a.keystore_path))
        ok = data["check"] == hashlib.sha256((data["salt"] + a.password).encode()).hexdigest()
    except (OSError, ValueError, KeyError):
        ok = False
    if not ok:
        print("Unable to recover keystore secret")
        sys.exit(0)
    print("Keystore version: 2")
'''

NODE = r'''#!/usr/bin/python3
"""monad-node TEST STAND-IN: checks its keystores (password from the env file) and node.toml."""
import hashlib, json, os, sys, time, tomllib
args = sys.argv[1:]
opt = {args[i]: args[i + 1] for i in range(0, len(args) - 1, 2)}
password = os.environ.get("KEYSTORE_PASSWORD", "")
for key in ("--secp-identity", "--bls-identity"):
    data = json.load(open(opt[key]))
    if data["check"] != hashlib.sha256((data["salt"] + password).encode()).hexdigest():
        sys.exit(f"monad-node (stand-in): {opt[key]} does not open with KEYSTORE_PASSWORD")
config = tomllib.load(open(opt["--node-config"], "rb"))
print(f"monad-node (TEST stand-in): node {config['node_name']}, beneficiary {config['beneficiary']}", flush=True)
while True:
    time.sleep(3600)
'''

EXECUTION = r'''#!/usr/bin/python3
"""monad (execution) TEST STAND-IN: needs --chain like the real one, then idles."""
import sys, time
chain = sys.argv[sys.argv.index("--chain") + 1] if "--chain" in sys.argv else ""
if chain not in ("monad_testnet", "monad_mainnet"):
    sys.exit(f"monad (stand-in): unknown --chain {chain!r}")
print(f"monad execution (TEST stand-in) on {chain}", flush=True)
while True:
    time.sleep(3600)
'''

RPC = r'''#!/usr/bin/python3
"""monad-rpc TEST STAND-IN: JSON-RPC on 127.0.0.1:8080; the head advances twice a second."""
import http.server, json, time
START = time.monotonic()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        head = 1 + int((time.monotonic() - START) * 2)
        result = {"eth_blockNumber": hex(head), "eth_syncing": False, "net_peerCount": "0x5",
                  "eth_getBlockByNumber": {"number": hex(head), "timestamp": hex(int(time.time()))},
                  }.get(req.get("method"))
        body = json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", 8080), H).serve_forever()
'''

IDLE = '#!/bin/sh\necho "$0 (TEST stand-in) $*"\nexec sleep infinity\n'
ONESHOT = '#!/bin/sh\necho "$0 (TEST stand-in) $*"\n'

SANDBOX = """DynamicUser=yes
Group=monad
SupplementaryGroups=monad-ipc
ProtectHome=read-only
NoNewPrivileges=yes
"""


def unit(description: str, exec_start: str, kind: str = "simple", env: bool = True) -> str:
    return (
        f"[Unit]\nDescription={description} (TEST stand-in)\nAfter=network.target\n\n[Service]\nType={kind}\n"
        f"ExecStart={exec_start}\n"
        + ("EnvironmentFile=-/etc/monad/env\n" if env else "")
        + SANDBOX
        + "\n[Install]\nWantedBy=multi-user.target\n"
    )


FILES: dict[str, tuple[str, int]] = {
    "usr/local/bin/monad-keystore": (KEYSTORE, 0o755),
    "usr/local/bin/monad-node": (NODE, 0o755),
    "usr/local/bin/monad": (EXECUTION, 0o755),
    "usr/local/bin/monad-rpc": (RPC, 0o755),
    "usr/bin/monad-mpt": (ONESHOT, 0o755),
    "usr/bin/otelcol": (IDLE, 0o755),
    "opt/monad/scripts/clear-old-artifacts.sh": (ONESHOT, 0o755),
    "opt/monad/scripts/set-hugepages.sh": (ONESHOT, 0o755),
    "usr/lib/systemd/system/monad-bft.service": (
        unit(
            "Service file for Monad BFT",
            "/usr/local/bin/monad-node --secp-identity ${MONAD_DATA_DIR}/private/id-secp --bls-identity "
            "${MONAD_DATA_DIR}/private/id-bls --node-config ${MONAD_CONFIG_DIR}/node.toml --triedb-path /dev/triedb",
        ),
        0o644,
    ),
    "usr/lib/systemd/system/monad-execution.service": (
        unit("Service file for Monad Execution", '/usr/local/bin/monad --chain "$CHAIN" --db /dev/triedb'),
        0o644,
    ),
    "usr/lib/systemd/system/monad-rpc.service": (
        unit("Service file for Monad RPC", "/usr/local/bin/monad-rpc --node-config ${MONAD_CONFIG_DIR}/node.toml"),
        0o644,
    ),
    "usr/lib/systemd/system/monad-mpt.service": (
        unit("Service file for Monad MPT", "/usr/bin/monad-mpt --storage /dev/triedb --create", "oneshot", False),
        0o644,
    ),
    "usr/lib/systemd/system/monad-cruft.service": (
        unit("Monad cleanup", "/opt/monad/scripts/clear-old-artifacts.sh", "oneshot"),
        0o644,
    ),
    "usr/lib/systemd/system/monad-cruft.timer": (
        "[Unit]\nDescription=Monad cleanup, hourly (TEST stand-in)\n\n[Timer]\nOnCalendar=hourly\n\n"
        "[Install]\nWantedBy=timers.target\n",
        0o644,
    ),
    "usr/lib/systemd/system/otelcol.service": (unit("OpenTelemetry collector", "/usr/bin/otelcol", env=False), 0o644),
    "usr/lib/systemd/system/set-hugepages.service": (
        "[Unit]\nDescription=hugepages for Monad (TEST stand-in)\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\n"
        "ExecStart=/opt/monad/scripts/set-hugepages.sh\n\n[Install]\nWantedBy=multi-user.target\n",
        0o644,
    ),
    "usr/lib/sysusers.d/monad.conf": ("g monad     - -\ng monad-ipc - -\n", 0o644),
    "usr/lib/tmpfiles.d/monad.conf": (
        "d /etc/monad 0750 root monad - -\nd /var/lib/monad 0770 root monad - -\n"
        "d /var/lib/monad/private 0750 root monad - -\nd /run/monad 2770 root monad-ipc - -\n",
        0o644,
    ),
    # TEST stand-in values (the real file's values were not read: SOURCES.md)
    "etc/sysctl.d/90-monad-network-buffer.conf": (
        "# TEST stand-in for the monad package's network buffer sysctls\nnet.core.rmem_max = 62500000\n"
        "net.ipv4.tcp_rmem = 4096 87380 62500000\n",
        0o644,
    ),
}

POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ]; then
  systemd-sysusers /usr/lib/sysusers.d/monad.conf || true
  systemd-tmpfiles --create /usr/lib/tmpfiles.d/monad.conf || true
  if [ ! -e /etc/monad/env ]; then
    printf '# /etc/monad/env (TEST stand-in skeleton)\\nMONAD_CONFIG_DIR=/etc/monad\\n' > /etc/monad/env
    chgrp monad /etc/monad/env; chmod 0640 /etc/monad/env
  fi
  if [ "$(ps -p 1 -o comm=)" = systemd ]; then
    systemctl daemon-reload
    systemctl enable set-hugepages.service monad-cruft.timer || true
  fi
fi
"""


def build_deb(work: Path, version: str) -> Path:
    """The stand-in `monad` package at `version` (amd64, like the real one)."""
    root = work / f"monad-standin-{version}"
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    for rel, (content, mode) in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(mode)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {PACKAGE}\nVersion: {version}\nArchitecture: amd64\nSection: net\nPriority: optional\n"
        f"Depends: python3 (>= 3.11)\nMaintainer: InfraKit tests <test@infrakit.invalid>\nDescription: {DESCRIPTION}\n"
    )
    (root / "DEBIAN" / "conffiles").write_text("/etc/sysctl.d/90-monad-network-buffer.conf\n")
    postinst = root / "DEBIAN" / "postinst"
    postinst.write_text(POSTINST)
    postinst.chmod(0o755)
    deb = work / f"{PACKAGE}_{version}_amd64.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], capture_output=True, check=True)
    return deb
