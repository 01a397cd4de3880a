"""Every EL x CL pair, both roles: the rendered units carry the right flags (table-driven).

A wrong flag name is a node that does not start; a missing localhost binding is an RPC open
to the internet. The expected flags per client are the ones CLIENTS.md says were checked
against each client's own documentation.
"""

from __future__ import annotations

import itertools
import re

import pytest

from infrakit.plan import build_plan
from infrakit.plan.model import HostPlan
from tests.adapters.ethereum.conftest import FEE, EthStack, eth_stack, write_test_lock

EL = ("geth", "nethermind", "reth", "besu")
CL = ("lighthouse", "teku", "prysm", "lodestar", "nimbus")
JWT = "/etc/ethereum/jwt.hex"

# client -> flags that must appear in its ExecStart (in this exact spelling)
EL_FLAGS = {
    "geth": ["--hoodi", "--datadir /var/lib/ethereum/execution", "--http.addr 127.0.0.1", "--http.port 8545",
             "--authrpc.addr 127.0.0.1", "--authrpc.port 8551", f"--authrpc.jwtsecret {JWT}", "--port 30303",
             "--metrics.addr 127.0.0.1", "--metrics.port 6060"],
    "nethermind": ["--config=hoodi", "--data-dir=/var/lib/ethereum/execution", "--JsonRpc.Host=127.0.0.1",
                   "--JsonRpc.EngineHost=127.0.0.1", "--JsonRpc.EnginePort=8551", f"--JsonRpc.JwtSecretFile={JWT}",
                   "--Network.P2PPort=30303", "--Metrics.ExposeHost=127.0.0.1"],
    "reth": ["node", "--chain hoodi", "--datadir /var/lib/ethereum/execution", "--http.addr 127.0.0.1",
             "--authrpc.addr 127.0.0.1", f"--authrpc.jwtsecret {JWT}", "--metrics 127.0.0.1:6060"],
    "besu": ["--network=hoodi", "--data-path=/var/lib/ethereum/execution", "--rpc-http-host=127.0.0.1",
             "--engine-rpc-port=8551", f"--engine-jwt-secret={JWT}", "--p2p-port=30303", "--metrics-host=127.0.0.1"],
}
CL_FLAGS = {
    "lighthouse": ["beacon_node", "--network hoodi", "--execution-endpoint http://127.0.0.1:8551",
                   f"--execution-jwt {JWT}", "--http-address 127.0.0.1", "--http-port 5052", "--port 9000",
                   "--quic-port 9001", "--checkpoint-sync-url https://hoodi.checkpoint.sigp.io",
                   "--metrics-address 127.0.0.1"],
    "teku": ["--network=hoodi", "--ee-endpoint=http://127.0.0.1:8551", f"--ee-jwt-secret-file={JWT}",
             "--rest-api-interface=127.0.0.1", "--rest-api-port=5052", "--p2p-port=9000",
             "--checkpoint-sync-url=https://hoodi.checkpoint.sigp.io", "--metrics-interface=127.0.0.1"],
    "prysm": ["--hoodi", "--accept-terms-of-use", "--execution-endpoint=http://127.0.0.1:8551", f"--jwt-secret={JWT}",
              "--p2p-tcp-port=13000", "--p2p-udp-port=12000", "--http-host=127.0.0.1", "--http-port=5052",
              "--rpc-host=127.0.0.1", "--checkpoint-sync-url=https://hoodi.checkpoint.sigp.io",
              "--genesis-beacon-api-url=https://hoodi.checkpoint.sigp.io", "--monitoring-host=127.0.0.1"],
    "lodestar": ["beacon", "--network hoodi", "--execution.urls http://127.0.0.1:8551", f"--jwtSecret {JWT}",
                 "--rest.address 127.0.0.1", "--rest.port 5052", "--checkpointSyncUrl https://hoodi.checkpoint.sigp.io",
                 "--metrics.address 127.0.0.1"],
    "nimbus": ["--network=hoodi", "--el=http://127.0.0.1:8551", f"--jwt-secret={JWT}", "--tcp-port=9000",
               "--udp-port=9000", "--quic-port=9001", "--rest-address=127.0.0.1", "--rest-port=5052",
               "--metrics-address=127.0.0.1"],
}
CL_BUILDER = {"lighthouse": "--builder http://127.0.0.1:18550", "teku": "--builder-endpoint=http://127.0.0.1:18550",
              "prysm": "--http-mev-relay=http://127.0.0.1:18550",
              "lodestar": "--builder.url http://127.0.0.1:18550",
              "nimbus": "--payload-builder-url=http://127.0.0.1:18550"}
VC_FLAGS = {
    "lighthouse": ["validator_client", "--beacon-nodes http://127.0.0.1:5052", f"--suggested-fee-recipient {FEE}",
                   "--graffiti infrakit", "--enable-doppelganger-protection", "--builder-proposals",
                   "--metrics-port 5064"],
    "teku": ["validator-client", "--beacon-node-api-endpoint=http://127.0.0.1:5052",
             f"--validators-proposer-default-fee-recipient={FEE}", "--validators-graffiti=infrakit",
             "--doppelganger-detection-enabled=true", "--validators-builder-registration-default-enabled=true",
             "--validator-keys=/var/lib/ethereum/validator/keys:/var/lib/ethereum/validator/passwords"],
    "prysm": ["--beacon-rpc-provider=127.0.0.1:4000", f"--suggested-fee-recipient={FEE}", "--graffiti=infrakit",
              "--enable-doppelganger", "--enable-builder", "--wallet-dir=/var/lib/ethereum/validator/wallet"],
    "lodestar": ["validator", "--beaconNodes http://127.0.0.1:5052", f"--suggestedFeeRecipient {FEE}",
                 "--graffiti infrakit", "--doppelgangerProtection", "--builder"],
    "nimbus": ["--beacon-node=http://127.0.0.1:5052", f"--suggested-fee-recipient={FEE}", "--graffiti=infrakit",
               "--doppelganger-detection=true", "--payload-builder=true"],
}
VC_DOPPELGANGER_OFF = {"lighthouse": None, "teku": "--doppelganger-detection-enabled=false", "prysm": None,
                       "lodestar": None, "nimbus": "--doppelganger-detection=false"}
DOPPELGANGER_ON = {"lighthouse": "--enable-doppelganger-protection", "teku": "--doppelganger-detection-enabled=true",
                   "prysm": "--enable-doppelganger", "lodestar": "--doppelgangerProtection",
                   "nimbus": "--doppelganger-detection=true"}


def unit(plan: HostPlan, role: str) -> str:
    return plan.step(f"unit_{role}").step.files[0].content


def exec_start(content: str) -> str:
    """The ExecStart value with continuations joined: 'bin --a 1 --b 2'."""
    match = re.search(r"^ExecStart=(.*?)(?<!\\)$", content, re.M | re.S)
    assert match, content
    return " ".join(re.sub(r"\\\n\s*", " ", match.group(1)).split())


PAIRS = list(itertools.product(EL, CL))


@pytest.mark.parametrize(("el", "cl"), PAIRS, ids=[f"{e}-{c}" for e, c in PAIRS])
@pytest.mark.parametrize("role", ["node", "validator"])
def test_units_carry_the_right_flags(eth_values: EthStack, el: str, cl: str, role: str) -> None:
    overrides = {"chainSettings": {"execution": {"client": el}, "consensus": {"client": cl}}}
    plan = build_plan(eth_stack(eth_values(role=role, **overrides)))
    execution, beacon = exec_start(unit(plan, "execution")), exec_start(unit(plan, "beacon"))
    for flag in EL_FLAGS[el]:
        assert f" {flag}" in f" {execution} ", f"{el}: missing {flag!r} in {execution}"
    for flag in CL_FLAGS[cl]:
        assert f" {flag}" in f" {beacon} ", f"{cl}: missing {flag!r} in {beacon}"
    assert (CL_BUILDER[cl] in beacon) is (role == "validator"), "builder flags only on validators"
    assert "0.0.0.0" not in execution + beacon, "no RPC may bind all interfaces"  # noqa: S104
    steps = {p.step.name for p in plan.steps}
    if role == "validator":
        validator = exec_start(unit(plan, "validator"))
        for flag in VC_FLAGS[cl]:
            assert f" {flag}" in f" {validator} ", f"{cl} validator: missing {flag!r} in {validator}"
        assert {"unit_validator", "validator_state", "unit_mevboost", "artifact_mev_boost"} <= steps
        vc_step = plan.step("unit_validator").step
        assert vc_step.params["ENABLE"] == vc_step.params["START"] == "0", "phase 1 never starts the validator"
    else:
        assert not {"unit_validator", "validator_state", "unit_mevboost"} & steps


@pytest.mark.parametrize("cl", CL)
def test_doppelganger_can_be_turned_off_explicitly(eth_values: EthStack, cl: str) -> None:
    on = exec_start(unit(build_plan(eth_stack(eth_values(chainSettings={"consensus": {"client": cl}}))),
                         "validator"))
    assert DOPPELGANGER_ON[cl] in on
    off_values = eth_values(chainSettings={"consensus": {"client": cl}, "validator": {"doppelganger": False}})
    off = exec_start(unit(build_plan(eth_stack(off_values)), "validator"))
    assert DOPPELGANGER_ON[cl] not in off.split()
    if VC_DOPPELGANGER_OFF[cl]:
        assert VC_DOPPELGANGER_OFF[cl] in off


def test_java_and_dotnet_clients_get_a_jre_and_no_mdwe(eth_values: EthStack) -> None:
    values = eth_values(chainSettings={"execution": {"client": "besu"}, "consensus": {"client": "teku"}})
    plan = build_plan(eth_stack(values))
    assert "artifact_jre" in {p.step.name for p in plan.steps}
    for role in ("execution", "beacon", "validator"):
        content = unit(plan, role)
        assert "Environment=JAVA_HOME=/opt/infrakit/jre/current" in content
        assert "\nMemoryDenyWriteExecute=yes" not in content
    native = build_plan(eth_stack(eth_values()))
    assert "\nMemoryDenyWriteExecute=yes" in unit(native, "execution")


def test_units_are_hardened(eth_values: EthStack) -> None:
    plan = build_plan(eth_stack(eth_values()))
    for role, user in (("execution", "eth-execution"), ("beacon", "eth-beacon"), ("validator", "eth-validator"),
                       ("mevboost", "eth-mevboost")):
        content = unit(plan, role)
        for line in (f"User={user}", "Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=", "StandardOutput=journal"):
            assert f"\n{line}\n" in content, f"{role}: {line}"
        assert ("SupplementaryGroups=eth-jwt" in content) is (role in {"execution", "beacon"}), \
            f"only EL and CL may read the JWT ({role})"


def test_checkpoint_sync_override_and_off(eth_values: EthStack) -> None:
    url = "https://checkpoint.example.org"
    plan = build_plan(eth_stack(eth_values(chainSettings={"consensus": {"checkpointSyncUrl": url}})))
    assert f"--checkpoint-sync-url {url}" in exec_start(unit(plan, "beacon"))
    off = build_plan(eth_stack(eth_values(chainSettings={"consensus": {"checkpointSync": False}})))
    assert "checkpoint" not in exec_start(unit(off, "beacon"))
    nimbus = build_plan(eth_stack(eth_values(chainSettings={"consensus": {"client": "nimbus"}})))
    assert "trustedNodeSync" in unit(nimbus, "beacon") and "ExecStartPre=" in unit(nimbus, "beacon")


def test_mev_boost_relays_and_min_bid(eth_values: EthStack) -> None:
    plan = build_plan(eth_stack(eth_values(network="mainnet", chainSettings={"mevBoost": {"minBid": 0.05}})))
    mev = exec_start(unit(plan, "mevboost"))
    assert "-mainnet" in mev and "-addr 127.0.0.1:18550" in mev and "-min-bid 0.05" in mev
    assert "@boost-relay.flashbots.net" in mev and "-relay-check" in mev
    relay = "https://0x" + "ab" * 48 + "@relay.example.org"
    custom = build_plan(eth_stack(eth_values(chainSettings={"mevBoost": {"relays": [relay]}})))
    assert f"-relays {relay}" in exec_start(unit(custom, "mevboost"))
    no_mev = build_plan(eth_stack(eth_values(chainSettings={"mevBoost": {"enabled": False}})))
    assert "unit_mevboost" not in {p.step.name for p in no_mev.steps}
    assert "--builder" not in exec_start(unit(no_mev, "beacon"))


def test_a_version_bump_changes_only_that_clients_steps(eth_values: EthStack, tmp_path) -> None:
    """Pulumi re-runs a step when its hash moves: a geth bump must not touch the beacon or validator."""
    lock = write_test_lock(tmp_path, {"geth": ["1.0.0", "1.0.1"], "lighthouse": ["1.0.0"], "mev-boost": ["1.0.0"]})

    def plan(version: str) -> HostPlan:
        return build_plan(eth_stack(eth_values(chainSettings={
            "artifacts": {"lockFile": str(lock)},
            "versions": {"geth": version, "lighthouse": "1.0.0", "mev-boost": "1.0.0"}})))

    before, after = plan("1.0.0"), plan("1.0.1")
    moved = [p.step.name for p in after.steps if before.step(p.step.name).hash != p.hash]
    assert moved == ["eth_rollback_guard", "artifact_geth", "unit_execution", "eth_smoke"]
