"""The Pulumi program under mocks: firewall, protection, commands, secrets, every stack."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components import host_setup
from infrakit.config import list_stacks, load_stack, read_stack_file
from infrakit.plan import build_plan
from tests.conftest import StackFactory, load_values
from tests.pulumi_mocks import Evaluation, evaluate

SECRET = "https://hooks.example.invalid/very-secret-token-5f2c"


@pytest.fixture
def captured_opts() -> dict[str, pulumi.ResourceOptions]:
    """depends_on is not visible to mocks; a stack transformation records each resource's options."""
    seen: dict[str, pulumi.ResourceOptions] = {}

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        seen[args.name] = args.opts

    pulumi.runtime.register_stack_transformation(record)
    return seen


def run(stack_values: StackFactory, name: str = "test-node", secrets: dict[str, str] | None = None,
        **overrides: Any) -> Evaluation:
    return evaluate(name, stack_values(**overrides), secrets)


@pytest.mark.parametrize("name", list_stacks())
def test_every_stack_file_evaluates(name: str) -> None:
    """`pulumi preview` on any shipped stack must not fail in the program itself; `pulumi up`
    must too, unless the plan has blockers (then it must refuse before creating anything)."""
    plan = build_plan(load_stack(name))
    result = evaluate(name, dict(read_stack_file(name).values), preview=True)
    assert len(result.commands) == len(plan.steps) + 1, "one command per step plus the bundle install"
    if not plan.blockers:
        assert len(evaluate(name, dict(read_stack_file(name).values)).commands) == len(plan.steps) + 1
        return
    with pytest.raises(Exception, match="the plan cannot be applied yet") as info:
        evaluate(name, dict(read_stack_file(name).values))
    assert plan.blockers[0] in str(info.value)


def test_cloud_firewall_is_exactly_ssh_from_admin_cidrs(stack_values: StackFactory) -> None:
    """Any extra inbound rule is an exposed service; any missing admin CIDR is a lock-out."""
    result = run(stack_values)
    (firewall,) = result.mocks.of_type("hcloud:index/firewall:Firewall")
    rules = [(r["direction"], r["protocol"], r["port"], sorted(r["sourceIps"])) for r in firewall.inputs["rules"]]
    assert rules == [("in", "tcp", "22", ["198.51.100.0/24", "2001:db8:42::/48"])]


def test_cloud_firewall_follows_ssh_port(stack_values: StackFactory) -> None:
    result = run(stack_values, access={"sshPort": 2222})
    (firewall,) = result.mocks.of_type("hcloud:index/firewall:Firewall")
    assert [r["port"] for r in firewall.inputs["rules"]] == ["2222"]


def test_protection_defaults_off_for_a_plain_host(stack_values: StackFactory) -> None:
    server = run(stack_values).mocks.of_type("hcloud:index/server:Server")[0]
    assert server.inputs["deleteProtection"] is False
    assert server.inputs["rebuildProtection"] is False


def test_protection_flags_when_enabled(stack_values: StackFactory,
                                       captured_opts: dict[str, pulumi.ResourceOptions]) -> None:
    """A validator's server, IP and volume must survive a stray `pulumi destroy` or rebuild."""
    result = run(stack_values, host={"protection": True, "volume": {"sizeGb": 100}})
    server = result.mocks.of_type("hcloud:index/server:Server")[0]
    ip = result.mocks.of_type("hcloud:index/primaryIp:PrimaryIp")[0]
    volume = result.mocks.of_type("hcloud:index/volume:Volume")[0]
    assert server.inputs["deleteProtection"] and server.inputs["rebuildProtection"]
    assert ip.inputs["deleteProtection"] and volume.inputs["deleteProtection"]
    for name in (server.name, ip.name, volume.name):
        assert captured_opts[name].protect is True, f"{name} must be Pulumi-protected"
    assert set(captured_opts[server.name].ignore_changes or []) == {"userData", "sshKeys"}


def test_server_uses_the_stable_primary_ip_and_firewall(stack_values: StackFactory) -> None:
    result = run(stack_values)
    server = result.mocks.of_type("hcloud:index/server:Server")[0]
    (net,) = server.inputs["publicNets"]
    assert net["ipv4Enabled"] is True and net["ipv4"] == int(net["ipv4"]) > 0
    assert len(server.inputs["firewallIds"]) == 1
    assert "ops" in server.inputs["userData"] and "NOPASSWD" in server.inputs["userData"]


def test_one_command_per_step_with_hash_trigger_in_order(stack_values: StackFactory,
                                                         captured_opts: dict[str, pulumi.ResourceOptions]) -> None:
    """Triggers = step hash is what makes an unchanged step not run again."""
    result = run(stack_values)
    plan = build_plan(load_values(stack_values(), stack="test-node"))
    by_name = {c.name: c for c in result.commands}
    previous = "test-node-setup-bundle-install"
    for planned in plan.steps:
        name = f"test-node-setup-{planned.step.name}"
        command = by_name[name]
        assert command.inputs["triggers"] == [planned.hash]
        assert planned.hash in command.inputs["create"]
        assert command.inputs["connection"]["user"] == "ops"
        assert command.inputs["connection"]["dialErrorLimit"] >= 20, "fresh servers need dial retries"
        deps = [d._name for d in captured_opts[name].depends_on]
        assert deps == [previous], f"{name} must run right after {previous}"
        previous = name


def test_no_secret_in_any_command_string(stack_values: StackFactory) -> None:
    """Command lines show up in `ps`, logs and plaintext state; secrets go on stdin only."""
    result = run(stack_values, secrets={"alertWebhookUrl": SECRET})
    for command in result.commands:
        assert SECRET not in command.inputs["create"], command.name
        assert SECRET not in str(command.inputs.get("triggers")), command.name
    node_env = result.mocks.named("test-node-setup-node_env")
    assert node_env.inputs["stdin"] == f"ALERT_WEBHOOK_URL={SECRET}\n"
    assert node_env.is_secret("stdin"), "stdin must be stored encrypted in state"
    assert node_env.inputs["logging"] == "none", "a step fed secrets must not log its output"


def test_existing_host_creates_no_cloud_resources() -> None:
    result = evaluate("hardened-existing", dict(read_stack_file("hardened-existing").values))
    assert not [r for r in result.mocks.resources if r.typ.startswith("hcloud:")]
    command = result.commands[0]
    assert command.inputs["connection"]["host"] == "203.0.113.10"


def test_bad_config_stops_the_program_cleanly(stack_values: StackFactory) -> None:
    with pytest.raises(Exception, match=r"stack 'broken': infrakit:chian: unknown key") as info:
        run(stack_values, name="broken", chian="x")
    assert not info.value.__class__.__name__.startswith("Validation")


def test_bundle_cache_keeps_one_tarball_per_stack_and_spares_prefix_neighbours(tmp_path, monkeypatch) -> None:
    """Old bundles go; a stack named like another's prefix (eth-hoodi vs eth-hoodi-validator) stays."""
    monkeypatch.setattr(host_setup, "BUNDLE_CACHE", tmp_path)
    neighbour = tmp_path / "lab-e2e-0123456789abcdef.tgz"
    stale = tmp_path / "lab-fedcba9876543210.tgz"
    neighbour.write_bytes(b"x")
    stale.write_bytes(b"x")
    path, _ = host_setup.write_bundle(build_plan(load_stack("lab")))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, neighbour.name])
