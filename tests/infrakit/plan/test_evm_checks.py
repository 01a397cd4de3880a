"""The EVM JSON-RPC health checks (run against a fake node in tests/shared/monitoring)."""

from __future__ import annotations

import json

from infrakit.plan.evm_checks import evm_head_check, evm_peers_check, evm_sync_check


def test_eth_check_helpers() -> None:
    peers = evm_peers_check("p", "http://127.0.0.1:8545")
    assert peers.bound == "min" and peers.query == ".result|hex" and json.loads(peers.body)["method"] == "net_peerCount"
    head = evm_head_check("h", "http://x")
    assert head.query == ".result.timestamp|age" and json.loads(head.body)["params"] == ["latest", False]
    assert evm_sync_check("s", "http://x").warn == 8
