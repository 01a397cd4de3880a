"""The Monad host plan: step order, pinned package, ports, node.toml, and no secret in the plan."""

from __future__ import annotations

import json
import tomllib

from infrakit.plan import build_plan
from infrakit.plan.base import firewall_rules
from tests.adapters.monad.conftest import BENEFICIARY, MonadValues, monad_stack

ORDER = [
    "monad_host_checks",
    "monad_package",
    "monad_tuning",
    "monad_config",
    "monad_triedb",
    "monad_services",
    "monad_smoke",
]


def names(values: dict) -> list[str]:  # type: ignore[type-arg]
    return [p.step.name for p in build_plan(monad_stack(values)).steps]


def test_steps_run_in_the_documented_order(monad_values: MonadValues) -> None:
    steps = [n for n in names(monad_values()) if n.startswith("monad_")]
    assert steps == ORDER


def test_package_is_pinned_held_and_downgrade_refused_by_default(monad_values: MonadValues) -> None:
    plan = build_plan(monad_stack(monad_values()))
    step = plan.step("monad_package").step
    assert step.script == "shared/artifacts/apt_package.sh"
    assert step.params == {
        "APT_REPO": "category-labs",
        "APT_PACKAGE": "monad",
        "APT_VERSION": "0.16.3",
        "APT_ALLOW_DOWNGRADE": "0",
    }
    files = {f.name: f for f in step.files}
    pin = files["infrakit-category-labs.pref"].content
    assert "Package: monad\nPin: version 0.16.3\nPin-Priority: 1001" in pin
    sources = files["infrakit-category-labs.sources"].content
    assert "URIs: https://pkg.category.xyz\nSuites: noble\nComponents: main\n" in sources
    assert "Signed-By: /etc/apt/keyrings/infrakit-category-labs.asc " in sources
    allowed = build_plan(monad_stack(monad_values(chainSettings={"allowDowngrade": True}))).step("monad_package")
    assert allowed.step.params["APT_ALLOW_DOWNGRADE"] == "1"


def test_version_bump_reruns_the_package_and_everything_after_it(monad_values: MonadValues) -> None:
    old = {p.step.name: p.hash for p in build_plan(monad_stack(monad_values())).steps}
    new = {
        p.step.name: p.hash for p in build_plan(monad_stack(monad_values(chainSettings={"version": "0.16.4"}))).steps
    }
    moved = {n for n in old if old[n] != new[n]}
    assert {"monad_package", "monad_tuning", "monad_config", "monad_services", "monad_smoke"} <= moved
    assert "monad_host_checks" not in moved and "firewall_ufw" not in moved


def test_ports_public_p2p_only(monad_values: MonadValues) -> None:
    """RPC, metrics and OTLP open to the world would let anyone drive or scrape the node."""
    stack = monad_stack(monad_values())
    plan = build_plan(stack)
    public = {(p.protocol, p.port) for p in plan.public_ports()}
    assert public == {("tcp", 8000), ("udp", 8000), ("udp", 8001)}
    private = {p.port for p in plan.ports if p.exposure == "private"}
    assert {8080, 9143, 4317, 4318, 8889} <= private
    rules = firewall_rules(stack.config, list(plan.ports))
    opened = {(r["proto"], r["port"]) for r in rules if r["source"] == "any"}
    assert opened == {("tcp", "8000"), ("udp", "8000"), ("udp", "8001")}
    assert not {r["port"] for r in rules} & {"8080", "9143", "4317", "4318", "8888", "8889"}


def test_node_toml_is_rendered_from_the_stack_and_parses(monad_values: MonadValues) -> None:
    plan = build_plan(monad_stack(monad_values()))
    files = {f.name: f for f in plan.step("monad_config").step.files}
    data = tomllib.loads(files["node.toml"].content)
    assert data["node_name"] == "infrakit-test-1"
    assert data["beneficiary"] == BENEFICIARY
    assert data["chain_id"] == 10143, "the network's base is kept"
    assert data["bootstrap"]["peers"] == [{"address": "203.0.113.7:8000", "secp256k1_pubkey": "02" + "ab" * 32}]
    assert "CHAIN=monad_testnet\n" in files["monad.env"].content
    assert files["monad.env"].mode == "0640"


def test_keystore_password_never_enters_the_plan(monad_values: MonadValues) -> None:
    plan = build_plan(monad_stack(monad_values()))
    config = plan.step("monad_config").step
    assert config.secrets == {"KEYSTORE_PASSWORD": "monadKeystorePassword"}
    assert "KEYSTORE_PASSWORD=" not in json.dumps(plan.model_dump())


def test_triedb_force_is_explicit(monad_values: MonadValues) -> None:
    plan = build_plan(monad_stack(monad_values()))
    assert plan.step("monad_triedb").step.params == {
        "TRIEDB_DEVICE": "/dev/disk/by-id/nvme-TEST_DRIVE_0001",
        "TRIEDB_FORCE": "0",
    }
    forced = build_plan(monad_stack(monad_values(chainSettings={"triedb": {"force": True}}))).step("monad_triedb")
    assert forced.step.params["TRIEDB_FORCE"] == "1" and "FORCED" in forced.step.description


def test_roles_and_protection(monad_values: MonadValues) -> None:
    """A validator holds keys that must never be lost: protected by default; a full node is not."""
    assert monad_stack(monad_values(role="validator")).protected is True
    assert monad_stack(monad_values(role="fullnode")).protected is False


def test_os_override_and_hardware_mode_reach_the_check(monad_values: MonadValues) -> None:
    plan = build_plan(
        monad_stack(monad_values(chainSettings={"osOverride": "debian-12-lab", "hardwareChecks": "report"}))
    )
    assert plan.step("monad_host_checks").step.params == {"OS_OVERRIDE": "debian-12-lab", "HARDWARE_CHECKS": "report"}
    default = build_plan(monad_stack(monad_values())).step("monad_host_checks").step.params
    assert default == {"OS_OVERRIDE": "none", "HARDWARE_CHECKS": "enforce"}


def test_health_watches_services_rpc_answering_advancing_and_sync(monad_values: MonadValues) -> None:
    """Issue 14's health: services active, eth_blockNumber answering, the head advancing (the
    latest block's age: a node that stopped following its peers still answers eth_blockNumber),
    and sync progress."""
    checks = {c.name: c for c in build_plan(monad_stack(monad_values())).health_checks}
    for unit in ("otelcol", "monad-execution", "monad-bft", "monad-rpc"):
        assert checks[unit].kind == "systemd" and checks[unit].target == f"{unit}.service"
    assert "eth_blockNumber" in checks["monad_block_number"].body
    head = checks["monad_head_age"]
    assert "eth_getBlockByNumber" in head.body and head.query == ".result.timestamp|age"
    assert (head.warn, head.crit, head.bound) == (10, 60, "max"), "an old head is bad: an upper bound"
    assert "eth_syncing" in checks["monad_syncing"].body
    assert all(c.target.startswith("http://127.0.0.1:") for c in checks.values() if c.kind == "http")
