"""The Pulumi program under mocks: firewall, protection, commands, secrets, every stack."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from adapters.registry import REGISTRY
from components import host_setup
from components.remote.host_key import HostKeyProvider
from components.remote.provider import BundleProvider, HostProvider, StepProvider
from infrakit.config import list_stacks, load_stack, read_stack_file
from infrakit.config.loader import RawConfig, load
from infrakit.plan import build_plan
from tests.conftest import StackFactory, load_values
from tests.pulumi_mocks import FAKE_HOST_KEY, FAKE_MACHINE_ID, Evaluation, RecordingMocks, evaluate

SECRET = "https://hooks.example.invalid/very-secret-token-5f2c"


@pytest.fixture
def captured_opts() -> dict[str, pulumi.ResourceOptions]:
    """depends_on is not visible to mocks; a stack transformation records each resource's options."""
    seen: dict[str, pulumi.ResourceOptions] = {}

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        seen[args.name] = args.opts

    pulumi.runtime.register_stack_transformation(record)
    return seen


def run(
    stack_values: StackFactory, name: str = "test-node", secrets: dict[str, str] | None = None, **overrides: Any
) -> Evaluation:
    return evaluate(name, stack_values(**overrides), secrets)


@pytest.mark.parametrize("name", list_stacks())
def test_every_stack_file_evaluates(name: str) -> None:
    """`pulumi preview` on any shipped stack must not fail in the program itself; `pulumi up`
    must too, unless the plan has blockers (then it must refuse before creating anything)."""
    plan = build_plan(load_stack(name, REGISTRY))
    result = evaluate(name, dict(read_stack_file(name).values), preview=True)
    assert len(result.steps) == len(plan.steps), "one Step resource per plan step"
    if not plan.blockers:
        assert len(evaluate(name, dict(read_stack_file(name).values)).steps) == len(plan.steps)
        return
    with pytest.raises(Exception, match="the plan cannot be applied yet") as info:
        evaluate(name, dict(read_stack_file(name).values))
    assert plan.blockers[0] in str(info.value)


def test_cloud_firewall_is_exactly_ssh_from_admin_cidrs(stack_values: StackFactory) -> None:
    """Any extra inbound rule is an exposed service; any missing admin CIDR is a lock-out."""
    result = run(stack_values)
    rules = [(r["direction"], r["protocol"], r["port"], sorted(r["sourceIps"])) for r in result.cloud_rules()]
    assert rules == [("in", "tcp", "22", ["198.51.100.0/24", "2001:db8:42::/48"])]


def test_cloud_firewall_follows_ssh_port(stack_values: StackFactory) -> None:
    result = run(stack_values, access={"sshPort": 2222})
    assert [r["port"] for r in result.cloud_rules()] == ["2222"]


def test_a_port_migration_keeps_both_ports_open_and_connects_with_a_fallback(stack_values: StackFactory) -> None:
    """Phase 1 of a port move: the cloud firewall allows the old and the new port, and every
    remote resource may fall back to the old port while sshd is silent on the new one."""
    result = run(stack_values, access={"sshPort": 2222, "previousSshPort": 22})
    main = result.mocks.named("node-host-firewall")
    assert [r["port"] for r in main.inputs["rules"]] == ["2222", "22"]
    assert sorted({r["port"] for r in result.cloud_rules()}) == ["22", "2222"], "nothing else"
    for resource in [result.one("dynamic/infrakit:Host"), *result.steps]:
        access = resource.inputs["access"]
        assert (access["port"], access["fallbackPort"]) == (2222, 22), resource.name
    done = run(stack_values, access={"sshPort": 2222})
    assert "fallbackPort" not in done.one("dynamic/infrakit:Host").inputs["access"], "phase 2: no fallback"


PREVIOUS_FW = "node-host-firewall-ssh-previous"


def test_the_previous_ssh_port_leaves_the_cloud_firewall_only_after_the_host_proves_the_new_one(
    stack_values: StackFactory, captured_opts: dict[str, pulumi.ResourceOptions]
) -> None:
    """Phase 2 of a port move (previousSshPort removed): the main cloud firewall drops the
    old port at once, so a second firewall keeps it until the Host logged in on the new port
    (it depends on the Host: the engine updates it only after the Host succeeded). Without the gate
    the cloud firewall closed the old port while sshd might not answer on the new one yet."""
    phase1 = run(stack_values, access={"sshPort": 2222, "previousSshPort": 22})
    held = phase1.mocks.named(PREVIOUS_FW)
    assert [(r["port"], sorted(r["sourceIps"])) for r in held.inputs["rules"]] == [
        ("22", ["198.51.100.0/24", "2001:db8:42::/48"])
    ], "phase 1: the previous port is also held by the gated firewall (admin CIDRs only)"
    phase2 = run(stack_values, access={"sshPort": 2222})
    assert [r["port"] for r in phase2.mocks.named("node-host-firewall").inputs["rules"]] == ["2222"]
    assert not phase2.mocks.named(PREVIOUS_FW).inputs.get("rules"), "phase 2: dropped, once proved"
    host = phase2.one("dynamic/infrakit:Host")
    assert [d._name for d in captured_opts[PREVIOUS_FW].depends_on] == [host.name]  # type: ignore[union-attr]
    order = [r.name for r in phase2.mocks.resources]
    assert order.index(host.name) < order.index(PREVIOUS_FW), "registered only after the Host's proof"
    (attachment,) = phase2.mocks.of_type("hcloud:index/firewallAttachment:FirewallAttachment")
    server = phase2.one("hcloud:index/server:Server")
    assert len(attachment.inputs["serverIds"]) == 1 and attachment.inputs["firewallId"] > 0
    assert server.inputs["ignoreRemoteFirewallIds"] is True, "the server must not detach the gated firewall"


def test_a_host_that_cannot_prove_the_new_port_leaves_the_previous_port_open(
    stack_values: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Host's update fails (sshd silent on the new port): the gated firewall is never
    updated, so the old port stays open in the cloud firewall; the run stops with the error."""
    real = RecordingMocks.new_resource
    seen: list[str] = []

    def failing_host(self: RecordingMocks, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        seen.append(args.name)
        if args.typ.endswith("dynamic/infrakit:Host"):
            raise RuntimeError("sshd does not answer on port 2222 (access.sshPort)")
        return real(self, args)

    monkeypatch.setattr(RecordingMocks, "new_resource", failing_host)
    with pytest.raises(Exception, match="sshd does not answer on port 2222"):
        run(stack_values, access={"sshPort": 2222})
    assert "node-host-firewall" in seen and "node-setup-host" in seen, seen
    assert PREVIOUS_FW not in seen, "the previous port's firewall was never touched"


def test_protection_defaults_off_for_a_plain_host(stack_values: StackFactory) -> None:
    server = run(stack_values).mocks.of_type("hcloud:index/server:Server")[0]
    assert server.inputs["deleteProtection"] is False
    assert server.inputs["rebuildProtection"] is False


def test_protection_flags_when_enabled(
    stack_values: StackFactory, captured_opts: dict[str, pulumi.ResourceOptions]
) -> None:
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


def test_one_step_resource_per_step_keyed_by_its_hash_in_order(
    stack_values: StackFactory, captured_opts: dict[str, pulumi.ResourceOptions]
) -> None:
    """The step hash is what makes an unchanged step not run again; the order is the plan's."""
    result = run(stack_values)
    plan = build_plan(load_values(stack_values(), stack="test-node"))
    by_name = {s.name: s for s in result.steps}
    previous = "node-setup-bundle"
    for planned in plan.steps:
        name = f"node-setup-{planned.step.name}"
        step = by_name[name]
        assert step.inputs["hash"] == planned.hash and step.inputs["step"] == planned.step.name
        assert step.inputs["access"]["user"] == "ops"
        deps = [d._name for d in captured_opts[name].depends_on]
        assert deps == [previous], f"{name} must run right after {previous}"
        previous = name
    assert [s.inputs["step"] for s in result.steps] == [p.step.name for p in plan.steps]


def test_steps_follow_the_host_machine_and_the_bundle_digest(stack_values: StackFactory) -> None:
    """A replaced server (new id) is a new machine: every step takes the Host's machine id."""
    result = run(stack_values)
    host = result.one("dynamic/infrakit:Host")
    bundle = result.one("dynamic/infrakit:Bundle")
    assert host.inputs["serverId"], "an hcloud host is identified by its server id"
    assert len(bundle.inputs["digest"]) == 64
    for step in [bundle, *result.steps]:
        assert step.inputs["machineId"] == FAKE_MACHINE_ID, step.name
        assert step.inputs["access"]["hostKey"] == FAKE_HOST_KEY, f"{step.name} must pin the recorded host key"


def test_no_secret_in_any_plain_input(stack_values: StackFactory) -> None:
    """Only stdin (and the SSH key) carry secrets, and both are stored encrypted in state."""
    result = run(stack_values, secrets={"alertWebhookUrl": SECRET, "sshPrivateKey": "PRIVATE-KEY-TEXT"})
    for resource in result.mocks.resources:
        for key, value in resource.raw_inputs.items():
            if key in {"stdin", "privateKey"} and SECRET_IN(value):
                assert resource.is_secret(key), f"{resource.name}.{key} must be a secret"
            elif key not in {"stdin", "privateKey"}:
                assert SECRET not in str(value) and "PRIVATE-KEY-TEXT" not in str(value), (
                    f"{resource.name}.{key} leaks a secret"
                )
    node_env = result.mocks.named("node-setup-node_env")
    assert node_env.inputs["stdin"] == f"ALERT_WEBHOOK_URL={SECRET}\n"
    assert node_env.is_secret("stdin"), "stdin must be stored encrypted in state"
    assert result.one("dynamic/infrakit:Host").is_secret("privateKey")


def SECRET_IN(value: Any) -> bool:  # noqa: N802 (reads as a predicate on the secrets above)
    return SECRET in str(value) or "PRIVATE-KEY-TEXT" in str(value)


def test_existing_host_creates_no_cloud_resources() -> None:
    result = evaluate("hardened-existing", dict(read_stack_file("hardened-existing").values))
    assert not [r for r in result.mocks.resources if r.typ.startswith("hcloud:")]
    assert result.steps[0].inputs["access"]["host"] == "203.0.113.10"
    assert result.one("dynamic/infrakit:Host").inputs["serverId"] == ""


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
    path, _ = host_setup.write_bundle(build_plan(load_stack("lab", REGISTRY)))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, neighbour.name])


def test_hcloud_host_key_is_made_first_and_pinned_from_the_first_connection(stack_values: StackFactory) -> None:
    """No trust-on-first-use for a server we create: cloud-init installs a key pair made
    before the server, and every connection checks it; the private half stays secret."""
    result = run(stack_values)
    server = result.mocks.of_type("hcloud:index/server:Server")[0]
    assert server.is_secret("userData"), "user data carries the host's private key: it must be a secret"
    assert "ed25519_private" in server.inputs["userData"] and FAKE_HOST_KEY in server.inputs["userData"]
    assert result.one("dynamic/infrakit:Host").inputs["access"]["hostKey"] == FAKE_HOST_KEY


def test_hetzner_names_are_replaced_delete_first_and_keys_named_by_fingerprint(
    stack_values: StackFactory, captured_opts: dict[str, pulumi.ResourceOptions]
) -> None:
    """Hetzner refuses two resources with one name: create-before-delete would collide."""
    keys = list(read_stack_file("hardened-hcloud").values["access"]["adminKeys"])
    assert len(keys) == 2
    first = run(stack_values, access={"adminKeys": keys}, host={"volume": {"sizeGb": 20}})
    names = sorted(r.inputs["name"] for r in first.mocks.of_type("hcloud:index/sshKey:SshKey"))
    swapped = run(stack_values, access={"adminKeys": list(reversed(keys))}, host={"volume": {"sizeGb": 20}})
    assert sorted(r.inputs["name"] for r in swapped.mocks.of_type("hcloud:index/sshKey:SshKey")) == names, (
        "reordering the admin keys must not rename (replace) any SSH key"
    )
    for suffix in ("sshKey:SshKey", "firewall:Firewall", "primaryIp:PrimaryIp", "server:Server", "volume:Volume"):
        for resource in first.mocks.of_type(f"hcloud:index/{suffix}"):
            assert captured_opts[resource.name].delete_before_replace, f"{resource.name} must delete before replace"


def test_a_stack_name_that_is_no_host_name_is_refused_for_hcloud(stack_values: StackFactory) -> None:
    with pytest.raises(Exception, match=r"stack 'Bad_Name': the stack name is the server's host name"):
        run(stack_values, name="Bad_Name")


def test_existing_host_protection_guards_pulumi_state_only(captured_opts: dict[str, pulumi.ResourceOptions]) -> None:
    """A validator on an existing host: `pulumi destroy` stops at the Host resource; nothing
    claims to protect the machine itself."""
    values = dict(read_stack_file("hardened-existing").values)
    values["role"] = "host"
    values["host"] = {**values["host"], "protection": True}
    result = evaluate("hardened-existing", values)
    host = result.one("dynamic/infrakit:Host")
    assert captured_opts[host.name].protect is True


def test_the_host_carries_the_lockout_guard_and_every_step_waits_for_it(
    stack_values: StackFactory, captured_opts: dict[str, pulumi.ResourceOptions]
) -> None:
    """`pulumi up` must refuse a plan whose firewall locks the operator out before anything
    changes: the Host (whose login checks the guard) holds the firewall's admin CIDRs and
    port, and the bundle (and through it every step) depends on the Host."""
    result = run(stack_values, access={"sshPort": 2222, "adminCidrs": ["203.0.113.0/24"]})
    host = result.one("dynamic/infrakit:Host")
    guard = host.inputs["guard"]
    assert (guard["stack"], guard["adminCidrs"], guard["sshPort"]) == ("test-node", ["203.0.113.0/24"], 2222)
    assert set(guard) == {"stack", "adminCidrs", "sshPort"}, "no step hash: a script edit updates no Host"
    bundle = next(n for n in captured_opts if n.endswith("-bundle"))
    assert [d._name for d in captured_opts[bundle].depends_on] == [host.name]  # type: ignore[union-attr]


def test_a_renamed_stack_names_every_resource_alike_and_reruns_no_step(
    stack_values: StackFactory, captured_opts: dict[str, pulumi.ResourceOptions]
) -> None:
    """Issue 9: the names embedded the stack's, so `pulumi stack rename` replaced every resource
    (and the hcloud host key pair, locking Pulumi out of the running server)."""
    before, after = run(stack_values, name="node-a"), run(stack_values, name="node-b")
    assert [(r.typ, r.name) for r in before.mocks.resources] == [(r.typ, r.name) for r in after.mocks.resources]
    providers = {
        "Step": StepProvider(),
        "Bundle": BundleProvider(),
        "Host": HostProvider(),
        "HostKeyPair": HostKeyProvider(),
    }
    changed = []
    for old, new in zip(before.mocks.resources, after.mocks.resources, strict=True):
        kind = old.typ.rsplit(":", 1)[-1]
        if kind in providers:
            # olds as the state holds them after a converge (the host's record matches)
            olds = {**old.inputs, "applied": old.inputs.get("hash"), "installed": old.inputs.get("digest")}
            if providers[kind].diff("id", olds, dict(new.inputs)).changes:
                changed.append(old.name)
    moved = {
        p.step.name for p in _plan("node-a", stack_values) if p.hash != _hashes("node-b", stack_values)[p.step.name]
    }
    # Only the steps whose content names the stack (monitoring labels, node env) run again,
    # with the bundle that carries them; nothing is replaced.
    assert moved and moved < set(_hashes("node-a", stack_values)), moved
    # The Host updates too: its lock-out guard names the stack (a login, no step).
    expected = [f"node-setup-{name}" for name in moved] + ["node-setup-bundle", "node-setup-host"]
    assert sorted(changed) == sorted(expected)
    # Stacks named by an earlier version keep their resources: the node carries the old name as an alias.
    aliases = captured_opts["node"].aliases or []
    assert [a.name for a in aliases if isinstance(a, pulumi.Alias)] == ["node-b"]


def _plan(name: str, stack_values: StackFactory) -> list[Any]:
    return list(build_plan(load(RawConfig(name, stack_values()), REGISTRY)).steps)


def _hashes(name: str, stack_values: StackFactory) -> dict[str, str]:
    return {p.step.name: p.hash for p in _plan(name, stack_values)}
