"""Config errors name the stack and key; validator safety settings are enforced before any resource exists."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.registry import REGISTRY
from infrakit.config import ConfigError, list_stacks, load_stack
from infrakit.plan import build_plan
from tests.adapters.ethereum.conftest import EthStack, eth_stack

BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("holesky is retired", {"network": "holesky"}, "infrakit:network", "Holesky is retired"),
    ("unknown EL", {"chainSettings": {"execution": {"client": "erigon"}}}, "infrakit:chainSettings.execution.client",
     "geth"),
    ("unknown CL", {"chainSettings": {"consensus": {"client": "grandine"}}},
     "infrakit:chainSettings.consensus.client", "lighthouse"),
    ("typo", {"chainSettings": {"consensus": {"clinet": "teku"}}}, "infrakit:chainSettings.consensus.clinet",
     "unknown key"),
    ("no fee recipient", {"chainSettings": {"validator": {"feeRecipient": None}}},
     "infrakit:chainSettings.validator.feeRecipient", "required"),
    ("lower-case fee recipient", {"chainSettings": {"validator": {
        "feeRecipient": "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"}}},
     "infrakit:chainSettings.validator.feeRecipient", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
    ("bad checksum", {"chainSettings": {"validator": {"feeRecipient": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"}}},
     "infrakit:chainSettings.validator.feeRecipient", "checksum mismatch"),
    ("zero address", {"chainSettings": {"validator": {"feeRecipient": "0x" + "0" * 40}}},
     "infrakit:chainSettings.validator.feeRecipient", "burn"),
    ("relay without pubkey", {"chainSettings": {"mevBoost": {"relays": ["https://relay.example.org"]}}},
     "infrakit:chainSettings.mevBoost.relays[0]", "BLS public key"),
    ("graffiti too long", {"chainSettings": {"validator": {"graffiti": "x" * 33}}},
     "infrakit:chainSettings.validator.graffiti", "32"),
    ("unknown version pin", {"chainSettings": {"versions": {"geth": "0.0.1"}}}, "infrakit:chainSettings.versions.geth",
     "infrakit lock geth@0.0.1"),
]


@pytest.mark.parametrize(("label", "overrides", "key", "expect"), BAD, ids=[b[0] for b in BAD])
def test_bad_settings_name_stack_and_key(eth_values: EthStack, label: str, overrides: dict[str, Any], key: str,
                                         expect: str) -> None:
    with pytest.raises(ConfigError) as info:
        eth_stack(eth_values(**overrides), name="eth-bad")
    lines = str(info.value).splitlines()
    assert any(line.startswith(f"stack 'eth-bad': {key}: ") and expect in line for line in lines), lines


def test_node_role_takes_no_validator_settings(eth_values: EthStack) -> None:
    with pytest.raises(ConfigError, match=r"infrakit:chainSettings\.validator: only for role validator"):
        eth_stack(eth_values(role="node", chainSettings={"validator": {
            "feeRecipient": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}}))


def test_validator_role_needs_validator_settings(eth_values: EthStack) -> None:
    with pytest.raises(ConfigError, match=r"infrakit:chainSettings\.validator: role validator needs"):
        eth_stack(eth_values(chainSettings={"validator": None}))


def test_validator_is_disabled_by_default(eth_values: EthStack) -> None:
    plan = build_plan(eth_stack(eth_values()))
    assert plan.step("validator_state").step.params["ENABLED"] == "0"
    assert [s.enabled for s in plan.services if s.unit == "eth-validator.service"] == [False]


def test_unlocked_artifacts_block_the_plan_and_their_steps_refuse(eth_values: EthStack) -> None:
    """The shipped lock file is honestly unlocked: the plan carries a blocker (validate warns,
    apply and `pulumi up` refuse before touching the host), and the install step would refuse."""
    plan = build_plan(eth_stack(eth_values(), name="eth-warn"))
    assert any("stack 'eth-warn': infrakit:chainSettings: artifact geth 1.17.10 is not locked" in b
               for b in plan.blockers)
    step = plan.step("artifact_geth").step
    assert step.params["ARTIFACT_SHA256"] == "" and "NOT LOCKED" in step.description


@pytest.mark.parametrize("name", [s for s in list_stacks() if s.startswith("eth-")])
def test_shipped_eth_stacks(name: str) -> None:
    stack = load_stack(name, REGISTRY)
    plan = build_plan(stack)
    assert plan.chain == "ethereum"
    if stack.config.role == "validator":
        assert stack.holds_keys and stack.protected and plan.protected, "validator hosts must be protected"
        assert plan.step("validator_state").step.params["ENABLED"] == "0"
