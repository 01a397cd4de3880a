"""Every shipped stack file loads, and bad configs fail with one clear message each."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.registry import REGISTRY
from infrakit.config import ConfigError, list_stacks, load_stack, read_stack_file
from infrakit.config.loader import RawConfig, load
from infrakit.config.published_keys import PUBLISHED_KEYS
from tests.conftest import StackFactory, load_values

LAB_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIATnZ2Zk4Zj1dvWKRctgixozWmEH8wyBozSdGt+RtSri lab"


@pytest.mark.parametrize("name", list_stacks())
def test_shipped_stack_is_valid(name: str) -> None:
    stack = load_stack(name, REGISTRY)
    assert stack.name == name
    assert stack.config.access.admin_cidrs, "every stack must restrict SSH to admin CIDRs"


def test_shipped_stacks_include_the_required_ones() -> None:
    assert {"hardened-hcloud", "hardened-existing", "lab"} <= set(list_stacks())


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown top-level key", {"chian": "none"}, "infrakit:chian", "unknown key"),
    ("typo in nested key", {"access": {"adminCidr": ["10.0.0.0/8"]}}, "infrakit:access.adminCidr", "unknown key"),
    ("unknown chain", {"chain": "solana"}, "infrakit:chain", "expected one of:"),
    ("wrong role for chain", {"role": "validator"}, "infrakit:role", "expected one of: host"),
    ("bad CIDR", {"access": {"adminCidrs": ["10.0.0.300/8"]}}, "infrakit:access.adminCidrs[0]", "CIDR"),
    ("host bits set", {"access": {"adminCidrs": ["10.0.0.1/8"]}}, "infrakit:access.adminCidrs[0]", "CIDR"),
    ("no admin CIDRs", {"access": {"adminCidrs": []}}, "infrakit:access.adminCidrs", "at least 1"),
    ("world SSH without opt-in", {"access": {"adminCidrs": ["0.0.0.0/0"]}}, "infrakit:access",
     "allowSshFromAnywhere"),
    ("private key instead of public", {"access": {"adminKeys": ["-----BEGIN OPENSSH PRIVATE KEY-----"]}},
     "infrakit:access.adminKeys[0]", "public key"),
    ("rsa key", {"access": {"adminKeys": ["ssh-rsa " + "A" * 60 + " old"]}}, "infrakit:access.adminKeys[0]",
     "RSA keys are refused"),
    ("root as admin", {"access": {"adminUser": "root"}}, "infrakit:access.adminUser", "not root"),
    ("ssh port out of range", {"access": {"sshPort": 70000}}, "infrakit:access.sshPort", "less than or equal"),
    ("missing target", {"host": {"target": None}}, "infrakit:host", "missing 'target'"),
    ("unknown target", {"host": {"target": "aws"}}, "infrakit:host", "hcloud or target: existing"),
    ("unsupported image", {"host": {"image": "centos-9"}}, "infrakit:host.image", "debian-12"),
    ("unknown location", {"host": {"location": "mars1"}}, "infrakit:host.location", "fsn1"),
    ("tiny volume", {"host": {"volume": {"sizeGb": 1}}}, "infrakit:host.volume.sizeGb", "greater than or equal"),
    ("bad label", {"host": {"labels": {"Team": "x"}}}, "infrakit:host.labels", "Hetzner label rules"),
    ("max auth tries too high", {"hardening": {"ssh": {"maxAuthTries": 50}}},
     "infrakit:hardening.ssh.maxAuthTries", "less than or equal"),
    ("bad sysctl key", {"hardening": {"sysctl": {"overrides": {"rm -rf /": 1}}}},
     "infrakit:hardening.sysctl.overrides", "pattern"),
    ("bad reboot time", {"hardening": {"upgrades": {"rebootTime": "25:00"}}},
     "infrakit:hardening.upgrades.rebootTime", "pattern"),
    ("chain settings for none", {"chainSettings": {"x": 1}}, "infrakit:chainSettings", "no chain settings"),
    ("wrong type", {"hardening": {"fail2ban": {"enabled": "maybe"}}}, "infrakit:hardening.fail2ban.enabled",
     "boolean"),
]


@pytest.mark.parametrize(("why", "overrides", "key", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_config_names_stack_key_and_expectation(
    stack_values: StackFactory, why: str, overrides: dict[str, Any], key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_values(stack_values(**overrides), stack="bad-stack")
    message = str(info.value)
    assert message.startswith("stack 'bad-stack': "), message
    assert f" {key}: " in message or f" {key}" in message, f"{why}: key {key} not named in: {message}"
    assert expected in message, f"{why}: expected {expected!r} in: {message}"
    assert "Traceback" not in message


def test_root_login_user_without_permit_root_is_a_lockout(stack_values: StackFactory) -> None:
    """Connecting as root after hardening disabled root login would lock the operator out."""
    values = stack_values(host={"target": "existing", "address": "203.0.113.5", "user": "root",
                                "serverType": None, "location": None, "image": None, "backups": None,
                                "labels": None})
    with pytest.raises(ConfigError, match="locked out"):
        load_values(values)


def test_plain_secret_is_refused(stack_values: StackFactory) -> None:
    """A webhook URL in plain text would sit unencrypted in git and in Pulumi state."""
    with pytest.raises(ConfigError, match=r"infrakit:alertWebhookUrl: is a secret; set it with `pulumi config"):
        load_values(stack_values(alertWebhookUrl="https://hooks.example/abc"))


def test_unknown_secure_key_is_refused(stack_values: StackFactory) -> None:
    with pytest.raises(ConfigError, match="infrakit:apiTokn: unknown secret key"):
        load(RawConfig("s", stack_values(), frozenset({"apiTokn"})), REGISTRY)


def test_secure_keys_become_secret_refs(stack_values: StackFactory) -> None:
    stack = load(RawConfig("s", stack_values(), frozenset({"alertWebhookUrl"})), REGISTRY)
    assert list(stack.secrets) == ["alertWebhookUrl"]


def test_all_problems_are_reported_at_once(stack_values: StackFactory) -> None:
    with pytest.raises(ConfigError) as info:
        load_values(stack_values(chian="x", access={"sshPort": 0}))
    assert len(info.value.problems) == 2


def test_a_host_without_keys_is_not_protected_unless_asked(stack_values: StackFactory) -> None:
    """Protection follows the role's holds_keys (tests/infrakit/chain); host.protection overrides it."""
    assert load_values(stack_values()).protected is False
    assert load_values(stack_values(host={"protection": True})).protected is True


def test_lab_key_is_refused_outside_the_lab(stack_values: StackFactory) -> None:
    """The published lab key must never open a real server."""
    with pytest.raises(ConfigError, match="lab-only"):
        load_values(stack_values(access={"adminKeys": [LAB_KEY]}))


@pytest.mark.parametrize("address", ["203.0.113.7", "10.198.0.2", "node.example.com", "fd00::2"])
def test_lab_key_is_refused_on_an_existing_host_outside_the_lab(stack_values: StackFactory, address: str) -> None:
    """A copied lab stack pointed at a real address (or a name that may resolve anywhere) is refused."""
    values = {**stack_values(access={"adminKeys": [LAB_KEY]}),
              "host": {"target": "existing", "address": address}}
    with pytest.raises(ConfigError, match=r"adminKeys\[0\]: is the published lab-only key"):
        load_values(values)


@pytest.mark.parametrize("address", ["10.199.0.2", "10.199.7.2", "127.0.0.1"])
def test_lab_key_opens_lab_addresses(stack_values: StackFactory, address: str) -> None:
    values = {**stack_values(access={"adminKeys": [LAB_KEY]}),
              "host": {"target": "existing", "address": address}}
    assert load_values(values).config.access.admin_keys == [LAB_KEY]


def test_missing_stack_file_names_known_stacks() -> None:
    with pytest.raises(ConfigError, match="no such stack file"):
        load_stack("does-not-exist", REGISTRY)


def key_blob(line: str) -> str:
    return line.split()[1]


def test_no_two_shipped_stacks_share_an_admin_key() -> None:
    """Hetzner refuses a second SSH key with the same fingerprint in a project, so two hcloud
    stacks that upload one key cannot share a project; and a key copied across every example
    is a key nobody is sure who holds. Each shipped stack carries its own example keys."""
    owners: dict[str, list[str]] = {}
    for name in list_stacks():
        for line in read_stack_file(name).values["access"].get("adminKeys") or []:
            owners.setdefault(key_blob(line), []).append(name)
    shared = {blob[-12:]: names for blob, names in owners.items() if len(names) > 1}
    assert not shared, f"admin keys shared between shipped stacks: {shared}"


@pytest.mark.parametrize("name", [n for n in list_stacks() if n != "lab" and not n.startswith("lab-")])
def test_no_published_key_is_accepted_for_a_shipped_non_lab_stack(name: str) -> None:
    """A non-lab stack never carries a published key, and refuses one when someone adds it."""
    values = dict(read_stack_file(name).values)
    published = {key.blob for key in PUBLISHED_KEYS}
    assert not published & {key_blob(k) for k in values["access"].get("adminKeys") or []}, name
    values["access"] = {**values["access"], "adminKeys": [LAB_KEY]}
    with pytest.raises(ConfigError, match=rf"stack '{name}': infrakit:access\.adminKeys\[0\]: is the published"):
        load(RawConfig(name, values), REGISTRY)
