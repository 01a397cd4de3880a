"""Monad stacks: bad input is refused before anything exists, naming the stack and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.registry import REGISTRY
from infrakit.config import ConfigError
from infrakit.plan import build_plan
from tests.adapters.monad.conftest import MonadValues, monad_stack

BAD: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "hcloud target",
        {"host": {"target": "hcloud", "serverType": "ccx63", "location": "fsn1", "address": None}},
        "infrakit:host.target",
        "bare metal",
    ),
    ("unknown role", {"role": "archive"}, "infrakit:role", "fullnode, validator"),
    ("unknown network", {"network": "devnet"}, "infrakit:network", "testnet, mainnet"),
    ("no TrieDB device", {"chainSettings": {"triedb": None}}, "infrakit:chainSettings.triedb", "required"),
    (
        "kernel device name",
        {"chainSettings": {"triedb": {"device": "/dev/nvme1n1"}}},
        "infrakit:chainSettings.triedb.device",
        "/dev/disk/by-id/",
    ),
    (
        "device path escape",
        {"chainSettings": {"triedb": {"device": "/dev/disk/by-id/../../sda"}}},
        "infrakit:chainSettings.triedb.device",
        "/dev/disk/by-id/",
    ),
    ("no version", {"chainSettings": {"version": None}}, "infrakit:chainSettings.version", "required"),
    (
        "version with a space",
        {"chainSettings": {"version": "0.16.3 ; rm"}},
        "infrakit:chainSettings.version",
        "pattern",
    ),
    (
        "lower-case beneficiary",
        {"chainSettings": {"beneficiary": "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"}},
        "infrakit:chainSettings.beneficiary",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    ),
    (
        "zero beneficiary",
        {"chainSettings": {"beneficiary": "0x" + "0" * 40}},
        "infrakit:chainSettings.beneficiary",
        "burns",
    ),
    (
        "node name with a quote",
        {"chainSettings": {"nodeName": 'a"b'}},
        "infrakit:chainSettings.nodeName",
        "letters, digits",
    ),
    (
        "node name with a newline",
        {"chainSettings": {"nodeName": "a\nchain_id = 1"}},
        "infrakit:chainSettings.nodeName",
        "letters, digits",
    ),
    (
        "peer without port",
        {"chainSettings": {"peers": [{"address": "203.0.113.7", "secp256k1Pubkey": "02" + "a" * 64}]}},
        "infrakit:chainSettings.peers[0].address",
        "HOST:PORT",
    ),
    (
        "peer key not compressed",
        {"chainSettings": {"peers": [{"address": "203.0.113.7:8000", "secp256k1Pubkey": "04" + "a" * 64}]}},
        "infrakit:chainSettings.peers[0].secp256k1Pubkey",
        "pattern",
    ),
    (
        "unknown OS override",
        {"chainSettings": {"osOverride": "debian-13"}},
        "infrakit:chainSettings.osOverride",
        "debian-12-lab",
    ),
    (
        "typo",
        {"chainSettings": {"trieDb": {"device": "/dev/disk/by-id/x"}}},
        "infrakit:chainSettings.trieDb",
        "unknown key",
    ),
    (
        "short fingerprint",
        {"chainSettings": {"repository": {"keyFingerprint": "ABCD1234"}}},
        "infrakit:chainSettings.repository.keyFingerprint",
        "40-hex-digit",
    ),
    (
        "repository URL with a query",
        {"chainSettings": {"repository": {"uri": "https://pkg.category.xyz/?x=1"}}},
        "infrakit:chainSettings.repository.uri",
        "https://",
    ),
]


@pytest.mark.parametrize(("label", "overrides", "key", "expect"), BAD, ids=[b[0] for b in BAD])
def test_bad_settings_name_stack_and_key(
    monad_values: MonadValues, label: str, overrides: dict[str, Any], key: str, expect: str
) -> None:
    with pytest.raises(ConfigError) as info:
        monad_stack(monad_values(**overrides), name="monad-bad")
    lines = str(info.value).splitlines()
    assert any(line.startswith(f"stack 'monad-bad': {key}: ") and expect in line for line in lines), lines


def test_hcloud_refusal_explains_why(monad_values: MonadValues) -> None:
    """An operator who asks for a cloud server learns why not and what to use instead."""
    values = monad_values(host={"target": "hcloud", "serverType": "ccx63", "location": "fsn1", "address": None})
    with pytest.raises(ConfigError) as info:
        monad_stack(values)
    message = str(info.value)
    assert "bare metal" in message and "SMT" in message and "target: existing" in message


def test_base_node_toml_must_not_set_what_the_stack_sets(monad_values: MonadValues, tmp_path: Path) -> None:
    base = tmp_path / "node.toml"
    base.write_text('node_name = "someone-else"\nchain_id = 1\n')
    with pytest.raises(ConfigError, match=r"chainSettings\.nodeConfigBase: .* sets node_name"):
        monad_stack(monad_values(chainSettings={"nodeConfigBase": str(base)}))
    base.write_text("chain_id = \n")
    with pytest.raises(ConfigError, match=r"nodeConfigBase: .* is not valid TOML"):
        monad_stack(monad_values(chainSettings={"nodeConfigBase": str(base)}))


def test_unpinned_key_blocks_the_plan_but_renders(monad_values: MonadValues) -> None:
    """No fingerprint: reviewable, never applied (no trust on first use of a repository key)."""
    plan = build_plan(monad_stack(monad_values(chainSettings={"repository": {"keyFingerprint": None}})))
    assert any("repository.keyFingerprint is not set" in b for b in plan.blockers), plan.blockers
    assert "monad_package" not in [p.step.name for p in plan.steps]


def test_key_that_does_not_match_the_fingerprint_blocks(monad_values: MonadValues) -> None:
    plan = build_plan(monad_stack(monad_values(chainSettings={"repository": {"keyFingerprint": "A" * 40}})))
    assert any("not the pinned" in b for b in plan.blockers), plan.blockers


def test_missing_keystore_password_blocks(monad_values: MonadValues) -> None:
    plan = build_plan(monad_stack(monad_values(), secret=False))
    assert any("monadKeystorePassword is not set" in b for b in plan.blockers), plan.blockers


def test_complete_stack_has_no_blocker(monad_values: MonadValues) -> None:
    assert build_plan(monad_stack(monad_values())).blockers == ()


@pytest.mark.parametrize("name", ["monad-testnet-fullnode", "monad-testnet-validator", "monad-mainnet-validator"])
def test_shipped_stacks_are_valid_existing_and_blocked_until_pinned(name: str) -> None:
    """The shipped stacks validate, target bare metal, and wait for the operator's key and password."""
    from infrakit.config import load_stack  # noqa: PLC0415

    stack = load_stack(name, REGISTRY)
    assert stack.config.host.target == "existing"
    plan = build_plan(stack)
    assert any("keyFingerprint" in b for b in plan.blockers)
    assert any("monadKeystorePassword" in b for b in plan.blockers)
    assert stack.protected is (stack.config.role == "validator")
