"""ePBS (Glamsterdam/Gloas, EIP-7732) external builders: configured per consensus client, refused
where the client's configuration is not released, and never on a network without the fork.

From Gloas on the beacon node asks builders for bids itself and mev-boost is no longer called: a
validator that wants more than locally built blocks and p2p bids lists its builders in the validator
client. Each client takes them differently (SOURCES.md says where each was read); a wrong spelling
is a validator that silently builds every block locally, a wrong refusal is an operator left without
a way to configure it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infrakit.config import ConfigError
from infrakit.plan import build_plan
from infrakit.plan.model import HostPlan
from tests.adapters.ethereum.conftest import FEE, EthStack, eth_stack
from tests.adapters.ethereum.test_render import exec_start, unit

A = "https://builder-a.example.org"
B = "https://builder-b.example.org:8443/v1"
LIGHTHOUSE_DEST = "/var/lib/ethereum/validator/validators/builder_definitions.yml"


def plan_for(eth_values: EthStack, cl: str, network: str = "sepolia", **builders: Any) -> HostPlan:
    settings: dict[str, Any] = {"consensus": {"client": cl}}
    if builders:
        settings["builders"] = builders
    return build_plan(eth_stack(eth_values(network=network, chainSettings=settings)))


def prepared_file(plan: HostPlan, name: str) -> str:
    files = {f.name: f for f in plan.step("eth_prepare").step.files}
    assert name in files, sorted(files)
    assert files[name].mode == "0644" and files[name].owner == "root:root"
    return files[name].content


def pre_commands(content: str) -> list[str]:
    """Every ExecStartPre value with continuations joined: 'bin --a 1'."""
    return [
        " ".join(re.sub(r"\\\n\s*", " ", m).split())
        for m in re.findall(r"^ExecStartPre=(.*?)(?<!\\)$", content, re.M | re.S)
    ]


# ------------------------------------------------------------------ per client ----


def test_lighthouse_reads_its_builders_from_builder_definitions(eth_values: EthStack) -> None:
    plan = plan_for(eth_values, "lighthouse", urls=[A, B], minBidGwei=1500000)
    text = prepared_file(plan, "lighthouse-builder-definitions.yml")
    assert "min_bid: 1500000\n" in text and "builder_boost_factor: 100\n" in text
    assert f'  - enabled: true\n    url: "{A}"\n    max_execution_payment: 0\n' in text
    assert f'    url: "{B}"\n' in text
    content = unit(plan, "validator")
    (pre,) = pre_commands(content)
    assert "install -D -m 0600 /etc/infrakit/eth-builders/lighthouse-builder-definitions.yml" in pre
    assert LIGHTHOUSE_DEST in pre
    assert "--builder-proposals" not in exec_start(content), "mev-boost is not used where Gloas is active"


def test_lighthouse_drops_a_removed_builder_list(eth_values: EthStack) -> None:
    """Lighthouse keeps reading builder_definitions.yml from its data dir: once builders are
    removed from the stack, the copy there must go too, or the old builders stay in use."""
    content = unit(plan_for(eth_values, "lighthouse"), "validator")
    assert pre_commands(content) == [f"/bin/rm -f {LIGHTHOUSE_DEST}"]


def test_no_builder_file_is_touched_where_the_fork_is_not_scheduled(eth_values: EthStack) -> None:
    content = unit(plan_for(eth_values, "lighthouse", network="mainnet"), "validator")
    assert pre_commands(content) == [], "a mainnet validator unit must not change (a restart costs epochs)"


def test_lodestar_takes_builders_as_flags(eth_values: EthStack) -> None:
    vc = exec_start(unit(plan_for(eth_values, "lodestar", urls=[A, B], minBidGwei=7), "validator"))
    assert f"--builder.urls {A},{B}" in vc and "--builder.minBid 7" in vc
    plain = exec_start(unit(plan_for(eth_values, "lodestar", urls=[A]), "validator"))
    assert f"--builder.urls {A}" in plain and "--builder.minBid" not in plain, "0 is lodestar's default"
    assert "--builder.maxExecutionPayment" not in plain and "--allowDangerousTrustedPayments" not in plain


def test_prysm_takes_builders_in_a_v2_proposer_settings_file(eth_values: EthStack) -> None:
    plan = plan_for(eth_values, "prysm", urls=[A, B], minBidGwei=9)
    settings = json.loads(prepared_file(plan, "prysm-proposer-settings.json"))
    assert settings == {
        "version": 2,
        "default_config": {
            "fee_recipient": FEE,
            "builder": {
                "enabled": True,
                "min_bid": "9",
                "max_execution_payment": "0",
                "builders": [{"url": A}, {"url": B}],
            },
        },
    }
    vc = exec_start(unit(plan, "validator"))
    assert "--proposer-settings-file=/etc/infrakit/eth-builders/prysm-proposer-settings.json" in vc
    assert "--suggested-fee-recipient" not in vc, "the file overrides it: the fee recipient is in the file, once"


def test_a_builder_change_restarts_only_the_validator_client(eth_values: EthStack) -> None:
    """The config file is installed by eth_prepare; its digest is part of the validator unit, so
    validator_state restarts the client exactly when its builders change."""
    before = plan_for(eth_values, "lighthouse", urls=[A])
    after = plan_for(eth_values, "lighthouse", urls=[A, B])
    moved = [p.step.name for p in after.steps if before.step(p.step.name).hash != p.hash]
    assert moved == ["eth_prepare", "unit_validator", "validator_state", "eth_smoke"]
    digest = re.search(r"^X-InfraKit-Builder-Config=([0-9a-f]{64})$", unit(after, "validator"), re.M)
    assert digest, unit(after, "validator")


# ------------------------------------------------------------------- refusals ----


@pytest.mark.parametrize(
    ("cl", "expect"),
    [
        ("teku", "--Xbuilder-urls"),
        ("nimbus", "one builder"),
    ],
)
def test_clients_without_a_released_builder_configuration_are_refused(
    eth_values: EthStack, cl: str, expect: str
) -> None:
    with pytest.raises(ConfigError) as info:
        eth_stack(
            eth_values(network="sepolia", chainSettings={"consensus": {"client": cl}, "builders": {"urls": [A]}}),
            name="eth-epbs",
        )
    line = next(x for x in str(info.value).splitlines() if "builders" in x)
    assert line.startswith("stack 'eth-epbs': infrakit:chainSettings.builders: "), line
    assert cl in line and expect in line and "lighthouse, prysm or lodestar" in line, line


def test_builders_are_refused_where_glamsterdam_is_not_scheduled(eth_values: EthStack) -> None:
    with pytest.raises(
        ConfigError,
        match=r"stack 'eth-test': infrakit:chainSettings\.builders: .*not scheduled "
        r"on mainnet",
    ):
        eth_stack(eth_values(network="mainnet", chainSettings={"builders": {"urls": [A]}}))


def test_builders_are_for_validators_only(eth_values: EthStack) -> None:
    with pytest.raises(ConfigError, match=r"infrakit:chainSettings\.builders: only for role validator"):
        eth_stack(eth_values(role="node", network="sepolia", chainSettings={"builders": {"urls": [A]}}))


def test_mev_boost_where_epbs_is_active_points_to_builders(eth_values: EthStack) -> None:
    with pytest.raises(ConfigError, match=r"infrakit:chainSettings\.mevBoost\.enabled: .*chainSettings\.builders"):
        eth_stack(eth_values(network="sepolia", chainSettings={"mevBoost": {"enabled": True}}))


BAD_BUILDERS: list[tuple[str, dict[str, Any], str, str]] = [
    ("plain http", {"urls": ["http://builder.example.org"]}, "urls[0]", "https"),
    ("credentials", {"urls": ["https://user:pw@builder.example.org"]}, "urls[0]", "https"),
    ("query", {"urls": ["https://builder.example.org/?key=1"]}, "urls[0]", "query"),
    ("fragment auth data", {"urls": [f"{A}#0x0123"]}, "urls[0]", "query"),
    ("comma", {"urls": [f"{A},{B}"]}, "urls[0]", "https"),
    ("duplicate", {"urls": [A, A]}, "urls", "twice"),
    ("none", {"urls": []}, "urls", "at least 1"),
    ("too many", {"urls": [f"https://b{i}.example.org" for i in range(9)]}, "urls", "at most 8"),
    ("negative bid", {"urls": [A], "minBidGwei": -1}, "minBidGwei", "greater than or equal to 0"),
    ("bid in ETH", {"urls": [A], "minBidGwei": 0.05}, "minBidGwei", "integer"),
    ("bid above 1 ETH", {"urls": [A], "minBidGwei": 10**9 + 1}, "minBidGwei", "less than or equal to 1000000000"),
    ("max execution payment", {"urls": [A], "maxExecutionPayment": 1}, "maxExecutionPayment", "unknown key"),
]


@pytest.mark.parametrize(("label", "builders", "key", "expect"), BAD_BUILDERS, ids=[b[0] for b in BAD_BUILDERS])
def test_bad_builder_values_name_the_key(
    eth_values: EthStack, label: str, builders: dict[str, Any], key: str, expect: str
) -> None:
    with pytest.raises(ConfigError) as info:
        eth_stack(eth_values(network="sepolia", chainSettings={"builders": builders}), name="eth-bad")
    lines = str(info.value).splitlines()
    assert any(
        line.startswith(f"stack 'eth-bad': infrakit:chainSettings.builders.{key}") and expect in line for line in lines
    ), lines


def test_loopback_http_is_allowed_for_a_local_sidecar(eth_values: EthStack) -> None:
    """A builder proxy on the same host (e.g. Commit-Boost) is reached over loopback HTTP."""
    vc = exec_start(unit(plan_for(eth_values, "lodestar", urls=["http://127.0.0.1:18551"]), "validator"))
    assert "--builder.urls http://127.0.0.1:18551" in vc
