"""Health checks over the Ethereum JSON-RPC API that every EVM node serves (Ethereum's execution
clients, Monad's RPC): a building block for any EVM chain's adapter. The monitoring tier runs
them with check_rpc.sh; the thresholds are defaults an adapter can override per check."""

from __future__ import annotations

from infrakit.plan.model import HealthCheck
from infrakit.plan.monitoring import json_rpc_check


def evm_sync_check(name: str, url: str, warn_behind: float = 8, crit_behind: float = 64) -> HealthCheck:
    """eth_syncing: OK when synced; blocks behind compared with the thresholds while syncing."""
    return json_rpc_check(
        name,
        url,
        "eth_syncing",
        query="if .result == false then 0 else (.result.highestBlock|hex) - (.result.currentBlock|hex) end",
        warn=warn_behind,
        crit=crit_behind,
        bound="max",
    )


def evm_peers_check(name: str, url: str, warn_below: float = 5, crit_below: float = 1) -> HealthCheck:
    """net_peerCount: too few peers is WARN, fewer than `crit_below` is CRIT."""
    return json_rpc_check(
        name, url, "net_peerCount", query=".result|hex", warn=warn_below, crit=crit_below, bound="min"
    )


def evm_head_check(name: str, url: str, warn_age: float = 60, crit_age: float = 300) -> HealthCheck:
    """Age of the latest block (seconds): a stalled head is WARN, then CRIT."""
    return json_rpc_check(
        name,
        url,
        "eth_getBlockByNumber",
        params='["latest",false]',
        query=".result.timestamp|age",
        warn=warn_age,
        crit=crit_age,
        bound="max",
    )
