"""The host plan: order, stable hashes, and hash changes confined to the changed step."""

from __future__ import annotations

import jinja2
import pytest

from adapters.registry import REGISTRY
from infrakit.config import RawConfig, load, load_stack
from infrakit.plan import build_plan
from infrakit.plan.model import Step, plan_steps
from infrakit.plan.templates import environment
from tests.conftest import StackFactory, load_values

OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIODxzMJdIUbDGjShYpHv6ewzfWFeK4UZC3PV4XSojGHo x"
HARDENED_ORDER = [
    "base_packages",
    "create_user",
    "harden_ssh",
    "sysctl",
    "os_hardening",
    "firewall_ufw",
    "fail2ban",
    "time_sync",
    "unattended_upgrades",
    "node_env",
    "node_exporter",
    "monitoring",
    "monitoring_units",
]


def hashes(values: dict) -> dict[str, str]:
    return {p.step.name: p.hash for p in build_plan(load_values(values)).steps}


def test_hardened_host_steps_in_order() -> None:
    plan = build_plan(load_stack("hardened-hcloud", REGISTRY))
    assert [p.step.name for p in plan.steps] == HARDENED_ORDER
    assert [p.index for p in plan.steps] == list(range(len(HARDENED_ORDER)))
    assert plan.steps[0].depends_on == ()
    for before, after in zip(plan.steps, plan.steps[1:], strict=False):
        assert after.depends_on == (before.step.name,), "each step runs after the previous one"


def test_hashes_are_stable(stack_values: StackFactory) -> None:
    assert hashes(stack_values()) == hashes(stack_values())
    assert len(set(hashes(stack_values()).values())) == len(HARDENED_ORDER), "hashes must be distinct"


@pytest.mark.parametrize(
    ("overrides", "changed"),
    [
        ({"hardening": {"fail2ban": {"banTime": 7200}}}, {"fail2ban"}),
        ({"hardening": {"ssh": {"maxAuthTries": 3}}}, {"harden_ssh"}),
        ({"hardening": {"sysctl": {"overrides": {"net.ipv4.tcp_syncookies": 0}}}}, {"sysctl"}),
        ({"hardening": {"extraPackages": ["htop"]}}, {"base_packages"}),
        ({"hardening": {"upgrades": {"autoReboot": True}}}, {"unattended_upgrades"}),
        ({"access": {"adminCidrs": ["192.0.2.0/24"]}}, {"firewall_ufw", "fail2ban"}),
        ({"access": {"adminKeys": [OTHER_KEY]}}, {"create_user"}),
        ({"access": {"sshPort": 2222}}, {"harden_ssh", "firewall_ufw", "fail2ban"}),
        ({"access": {"sshPort": 2222, "previousSshPort": 22}}, {"harden_ssh", "firewall_ufw", "fail2ban"}),
        ({"role": "host", "hardening": {"timeSync": {"servers": ["ntp.example.org"]}}}, {"time_sync"}),
    ],
)
def test_a_change_moves_only_its_steps_hash(stack_values: StackFactory, overrides: dict, changed: set[str]) -> None:
    """A parameter change must re-run exactly the steps that use it, nothing else."""
    before, after = hashes(stack_values()), hashes(stack_values(**overrides))
    assert {name for name in before if before[name] != after[name]} == changed


def test_requires_propagates_changes() -> None:
    """A step that requires another re-runs when that one changes (e.g. unit after binary)."""

    def steps(version: str) -> dict[str, str]:
        install = Step(
            name="install_bin", script="shared/provision/base_packages.sh", description="x", params={"VERSION": version}
        )
        unit = Step(name="unit", script="shared/provision/base_packages.sh", description="y", requires=("install_bin",))
        other = Step(name="other", script="shared/provision/base_packages.sh", description="z")
        return {p.step.name: p.hash for p in plan_steps([install, unit, other])}

    a, b = steps("1.0"), steps("1.1")
    assert a["install_bin"] != b["install_bin"]
    assert a["unit"] != b["unit"]
    assert a["other"] == b["other"]


def test_requires_must_name_an_earlier_step() -> None:
    late = Step(name="unit", script="shared/provision/base_packages.sh", description="y", requires=("later",))
    with pytest.raises(ValueError, match="not an earlier step"):
        plan_steps([late])


def test_templates_fail_on_undefined_variables() -> None:
    with pytest.raises(jinja2.UndefinedError):
        environment().get_template("shared/hardening/templates/jail.local.j2").render()


def test_sshd_dropin_is_hardened() -> None:
    plan = build_plan(load_stack("hardened-hcloud", REGISTRY))
    dropin = plan.step("harden_ssh").step.files[0]
    assert dropin.dest == "/etc/ssh/sshd_config.d/00-infrakit-hardening.conf", "must sort before cloud-init's 50-"
    for line in [
        "PermitRootLogin no",
        "PasswordAuthentication no",
        "MaxAuthTries 2",
        "AllowUsers ops",
        "AuthenticationMethods publickey",
        "KbdInteractiveAuthentication no",
        "X11Forwarding no",
    ]:
        assert f"\n{line}\n" in dropin.content, line
    assert "cbc" not in dropin.content and "sha1" not in dropin.content.replace("sha1-", "")


def test_host_firewall_rules_are_exactly_ssh_from_admin_cidrs() -> None:
    plan = build_plan(load_stack("hardened-hcloud", REGISTRY))
    rules = plan.step("firewall_ufw").step.files[0].content
    lines = [line for line in rules.splitlines() if line and not line.startswith("#")]
    assert lines == [
        "tcp 22 198.51.100.0/24 infrakit-ssh-admin",
        "tcp 22 2001:db8:42::/48 infrakit-ssh-admin",
    ]


def test_secret_values_never_enter_the_plan(stack_values: StackFactory) -> None:
    stack = load(RawConfig("s", stack_values(), frozenset({"alertWebhookUrl"})), REGISTRY)
    plan = build_plan(stack)
    node_env = plan.step("node_env").step
    assert node_env.secrets == {"ALERT_WEBHOOK_URL": "alertWebhookUrl"}
    assert "ALERT_WEBHOOK_URL" not in node_env.files[0].content


def test_a_port_migration_keeps_sshd_and_both_firewalls_on_both_ports(stack_values: StackFactory) -> None:
    """Phase 1 of an SSH port move: sshd listens on the new and the old port, ufw, the cloud
    firewall (the same inbound rules) and fail2ban cover both; phase 2 (no previousSshPort)
    has only the new one."""
    from infrakit.plan.firewall import inbound_rules  # noqa: PLC0415

    plan = build_plan(load_values(stack_values(access={"sshPort": 2222, "previousSshPort": 22})))
    assert plan.ssh_ports == (2222, 22)
    harden = plan.step("harden_ssh").step
    assert harden.params["SSH_PORT"] == "2222" and harden.params["SSH_EXTRA_PORTS"] == "22"
    sshd = harden.files[0].content
    assert "Port 2222\nPort 22\n" in sshd
    rules = plan.step("firewall_ufw").step.files[0].content
    assert "tcp 2222 " in rules and "tcp 22 " in rules
    assert "port = 2222,22" in plan.step("fail2ban").step.files[0].content
    assert [r.port for r in inbound_rules(plan.ssh_ports, plan.admin_cidrs, plan.ports)][:2] == [2222, 22]
    done = build_plan(load_values(stack_values(access={"sshPort": 2222})))
    assert done.ssh_ports == (2222,) and "SSH_EXTRA_PORTS" not in done.step("harden_ssh").step.params


def test_previous_ssh_port_equal_to_ssh_port_is_refused(stack_values: StackFactory) -> None:
    from infrakit.config import ConfigError  # noqa: PLC0415

    with pytest.raises(ConfigError, match=r"infrakit:access.*previousSshPort is the same as sshPort"):
        load_values(stack_values(access={"sshPort": 2222, "previousSshPort": 2222}))


def test_forwarding_sysctls_come_first() -> None:
    """Writing net.ipv4.ip_forward resets every net.ipv4.conf.* key: written after them, it
    undid accept_redirects=0 and the next apply changed the sysctl step again (measured)."""
    plan = build_plan(load_stack("lab", REGISTRY))
    content = next(f.content for p in plan.steps for f in p.step.files if f.name == "sysctl.conf")
    keys = [line.split(" = ")[0] for line in content.splitlines() if " = " in line]
    assert keys[:3] == ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding", "net.ipv6.conf.default.forwarding"]
    assert keys[3:] == sorted(keys[3:])


def test_ssh_rate_limit_covers_every_ssh_port(stack_values: StackFactory) -> None:
    """During a port migration both ports are rate limited, as both are open."""
    plan = build_plan(load_values(stack_values(access={"sshPort": 2222, "previousSshPort": 22})))
    table = next(f.content for f in plan.step("firewall_ufw").step.files if f.name == "ssh-ratelimit.nft")
    assert table.count("tcp dport { 2222, 22 } ct state new") == 2
