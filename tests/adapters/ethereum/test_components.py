"""The Pulumi program under mocks for Ethereum stacks: cloud firewall per client pair, protection."""

from __future__ import annotations

import pytest

from tests.adapters.ethereum.conftest import EthStack
from tests.pulumi_mocks import evaluate

P2P = {
    "lighthouse": {("tcp", "9000"), ("udp", "9000"), ("udp", "9001")},
    "teku": {("tcp", "9000"), ("udp", "9000"), ("udp", "9001")},  # QUIC, on by default since 26.7
    "prysm": {("tcp", "13000"), ("udp", "12000"), ("udp", "13000")},
    "lodestar": {("tcp", "9000"), ("udp", "9000"), ("udp", "9001")},  # QUIC: --port + 1
    "nimbus": {("tcp", "9000"), ("udp", "9000"), ("udp", "9001")},  # QUIC, on by default (nimbus-eth2 #8762)
}
EL_P2P = {("tcp", "30303"), ("udp", "30303")}
EL_EXTRA = {"reth": {("udp", "9200")}}  # reth's discv5
PRIVATE = {"8545", "8551", "5052", "5054", "5064", "6060", "18550", "4000"}


@pytest.mark.parametrize("cl", sorted(P2P))
@pytest.mark.parametrize("el", ["geth", "nethermind", "reth", "besu"])
def test_cloud_firewall_opens_exactly_ssh_and_p2p(eth_values: EthStack, el: str, cl: str) -> None:
    """An RPC, engine or metrics port in the cloud firewall is a node anyone can drive or scrape."""
    values = eth_values(chainSettings={"execution": {"client": el}, "consensus": {"client": cl}})
    result = evaluate("eth-test", values, preview=True)
    rules = result.cloud_rules()
    ssh = [r for r in rules if r["port"] == "22"]
    assert [sorted(r["sourceIps"]) for r in ssh] == [["198.51.100.0/24", "2001:db8:42::/48"]]
    public = {(r["protocol"], r["port"]) for r in rules if r["port"] != "22"}
    assert public == EL_P2P | EL_EXTRA.get(el, set()) | P2P[cl]
    assert not PRIVATE & {r["port"] for r in rules}
    for rule in rules:
        if rule["port"] != "22":
            assert sorted(rule["sourceIps"]) == ["0.0.0.0/0", "::/0"]


def test_validator_host_is_protected_by_default(eth_values: EthStack) -> None:
    """A validator's server and IP must survive a stray `pulumi destroy` or rebuild (slashing DB, keys)."""
    result = evaluate("eth-test", eth_values(), preview=True)
    server = result.mocks.of_type("hcloud:index/server:Server")[0]
    assert server.inputs["deleteProtection"] is True and server.inputs["rebuildProtection"] is True
    ip = result.mocks.of_type("hcloud:index/primaryIp:PrimaryIp")[0]
    assert ip.inputs["deleteProtection"] is True


def test_node_host_is_not_protected_by_default(eth_values: EthStack) -> None:
    server = evaluate("eth-test", eth_values(role="node"), preview=True).mocks.of_type("hcloud:index/server:Server")[0]
    assert server.inputs["deleteProtection"] is False


def test_no_key_material_or_jwt_in_any_command(eth_values: EthStack) -> None:
    """Keystores never pass through Pulumi; the JWT is generated on the host."""
    result = evaluate("eth-test", eth_values(), preview=True)
    assert result.steps, "the validator plan has steps"
    for step in result.steps:
        text = str({k: v for k, v in step.inputs.items() if k != "__provider"})
        assert "keystore" not in text.lower() and "jwt.hex" not in text, step.name


def test_a_builder_change_replaces_only_the_validators_steps_under_pulumi(eth_values: EthStack) -> None:
    """ePBS builders on sepolia: no mev-boost resource at all, and a builder change moves exactly the
    Step resources that install the builder file and restart the validator client (plus the smoke test)."""

    def hashes(urls: list[str]) -> dict[str, str]:
        values = eth_values(network="sepolia", chainSettings={"builders": {"urls": urls}})
        steps = evaluate("eth-test", values, preview=True).steps
        return {s.name.removeprefix("node-setup-"): s.inputs["hash"] for s in steps}

    one = hashes(["https://builder-a.example.org"])
    two = hashes(["https://builder-a.example.org", "https://builder-b.example.org"])
    assert not [name for name in one if "mev" in name], sorted(one)
    moved = sorted(name for name in one if one[name] != two[name])
    assert moved == ["eth_prepare", "eth_smoke", "unit_validator", "validator_state"]
