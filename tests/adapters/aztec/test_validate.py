"""Aztec stacks: bad input is refused before anything exists, naming the stack and the key."""

from __future__ import annotations

from typing import Any

import pytest

from infrakit.config import ConfigError
from tests.adapters.aztec.conftest import AztecValues, aztec_stack

NODE = "infrakit:chainSettings.node"
BAD: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("unknown role", "dev", {"role": "prover"}, "infrakit:role", "dev, node, sequencer"),
    ("unknown network", "dev", {"network": "alpha"}, "infrakit:network", "local, devnet, testnet, mainnet"),
    ("no version", "dev", {"chainSettings": {"version": None}}, "infrakit:chainSettings.version", "required"),
    ("a version range", "dev", {"chainSettings": {"version": "^4.1.2"}}, "infrakit:chainSettings.version", "pattern"),
    ("a dist-tag", "dev", {"chainSettings": {"version": "latest"}}, "infrakit:chainSettings.version", "pattern"),
    ("root as the developer", "dev", {"chainSettings": {"dev": {"user": "root"}}}, "chainSettings.dev.user", "own"),
    ("a debian-12 cloud image", "dev", {"host": {"image": "debian-12"}}, "infrakit:host.image", "glibc 2.39"),
    (
        "node settings on a dev box",
        "dev",
        {
            "chainSettings": {
                "node": {"l1ExecutionUrls": ["https://a.example"], "l1ConsensusUrls": ["https://b.example"]}
            }
        },
        NODE,
        "only for role node",
    ),
    (
        "registry with credentials",
        "dev",
        {"chainSettings": {"registry": "https://u:p@npm.example.org/"}},
        "infrakit:chainSettings.registry",
        "credentials",
    ),
    (
        "plain http registry on the internet",
        "dev",
        {"chainSettings": {"registry": "http://npm.example.org/"}},
        "infrakit:chainSettings.registry",
        "https",
    ),
    ("node without node settings", "node", {"chainSettings": {"node": None}}, NODE, "required for role node"),
    ("node on the local network", "node", {"network": "local"}, "infrakit:network", "local is for role dev"),
    (
        "no execution endpoint",
        "node",
        {"chainSettings": {"node": {"l1ExecutionUrls": []}}},
        f"{NODE}.l1ExecutionUrls",
        "at least 1",
    ),
    (
        "no consensus endpoint",
        "node",
        {"chainSettings": {"node": {"l1ConsensusUrls": None}}},
        f"{NODE}.l1ConsensusUrls",
        "required",
    ),
    (
        "an API key in the URL",
        "node",
        {"chainSettings": {"node": {"l1ExecutionUrls": ["https://el.example/v2?key=abc"]}}},
        f"{NODE}.l1ExecutionUrls[0]",
        "no credentials, query",
    ),
    (
        "credentials in the URL",
        "node",
        {"chainSettings": {"node": {"l1ConsensusUrls": ["https://u:p@cl.example"]}}},
        f"{NODE}.l1ConsensusUrls[0]",
        "no credentials",
    ),
    (
        "a comma inside a URL",
        "node",
        {"chainSettings": {"node": {"l1ExecutionUrls": ["https://a.example,https://b"]}}},
        f"{NODE}.l1ExecutionUrls[0]",
        "comma",
    ),
    (
        "a newline inside a URL",
        "node",
        {"chainSettings": {"node": {"l1ExecutionUrls": ["https://a.example\nX=1"]}}},
        f"{NODE}.l1ExecutionUrls[0]",
        "http(s)://",
    ),
    (
        "a duplicate endpoint",
        "node",
        {"chainSettings": {"node": {"l1ExecutionUrls": ["https://a.example", "https://A.example"]}}},
        f"{NODE}.l1ExecutionUrls",
        "twice",
    ),
    ("a private P2P address", "node", {"chainSettings": {"node": {"p2pIp": "0.0.0.0"}}}, f"{NODE}.p2pIp", "peers"),  # noqa: S104
    ("an IPv6 P2P address", "node", {"chainSettings": {"node": {"p2pIp": "2001:db8::1"}}}, f"{NODE}.p2pIp", "IPv4"),
    ("API on the P2P port", "node", {"chainSettings": {"node": {"apiPort": 40400}}}, NODE, "different ports"),
    ("a privileged port", "node", {"chainSettings": {"node": {"p2pPort": 443}}}, f"{NODE}.p2pPort", "1024"),
    (
        "a dev key on a node",
        "node",
        {"chainSettings": {"dev": {"user": "dev"}}},
        "infrakit:chainSettings.dev",
        "only for role dev",
    ),
    ("a sequencer", "node", {"role": "sequencer"}, "infrakit:chainSettings.sequencer", "required for role sequencer"),
    (
        "a sequencer with its settings",
        "node",
        {
            "role": "sequencer",
            "chainSettings": {
                "sequencer": {
                    "coinbase": "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                    "feeRecipient": "0x" + "12" * 32,
                }
            },
        },
        "infrakit:role",
        "not implemented yet",
    ),
    (
        "an unchecksummed coinbase",
        "node",
        {
            "role": "sequencer",
            "chainSettings": {
                "sequencer": {
                    "coinbase": "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359",
                    "feeRecipient": "0x" + "12" * 32,
                }
            },
        },
        "infrakit:chainSettings.sequencer.coinbase",
        "EIP-55",
    ),
    (
        "an L1 address as fee recipient",
        "node",
        {
            "role": "sequencer",
            "chainSettings": {
                "sequencer": {
                    "coinbase": "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                    "feeRecipient": "0x" + "12" * 20,
                }
            },
        },
        "infrakit:chainSettings.sequencer.feeRecipient",
        "32-byte",
    ),
    (
        "a keystore from a non-aztec key",
        "node",
        {
            "role": "sequencer",
            "chainSettings": {
                "sequencer": {
                    "coinbase": "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                    "feeRecipient": "0x" + "12" * 32,
                    "keystoreSecret": "sshPrivateKey",
                }
            },
        },
        "infrakit:chainSettings.sequencer.keystoreSecret",
        "pattern",
    ),
    ("an unknown key", "node", {"chainSettings": {"node": {"bindHost": "::"}}}, f"{NODE}.bindHost", "unknown key"),
]


@pytest.mark.parametrize(("role", "overrides", "key", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_is_refused_naming_stack_and_key(
    aztec_values: AztecValues, role: str, overrides: dict[str, Any], key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        aztec_stack(aztec_values(role, **overrides))
    text = str(caught.value)
    assert "aztec-test" in text, text
    line = next((line for line in text.splitlines() if key in line), "")
    assert line, f"no problem names {key}:\n{text}"
    assert expected in line, f"{key}: expected {expected!r} in {line!r}"


def test_the_shipped_stacks_validate_without_blockers(aztec_values: AztecValues) -> None:
    for role in ("dev", "node"):
        stack = aztec_stack(aztec_values(role))
        assert stack.adapter is not None and stack.adapter.name == "aztec"


def test_a_sequencer_holds_keys_and_the_other_roles_do_not() -> None:
    from adapters.aztec import ADAPTER  # noqa: PLC0415

    assert {r.name: r.holds_keys for r in ADAPTER.roles} == {"dev": False, "node": False, "sequencer": True}
