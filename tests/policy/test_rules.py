"""Every rule of the policy pack, on violating and clean resource properties.

A rule that cannot fail protects nothing: each test feeds the shape the engine hands the
pack (camelCase properties of hcloud resources, the program's policyFacts output) once with
the violation and once without.
"""

from __future__ import annotations

from typing import Any

import pytest
from infrakit_policy import rules

WORLD4, WORLD6 = "0.0.0.0/0", "::/0"
ADMIN = "198.51.100.0/24"


def rule(port: str, sources: list[str], protocol: str = "tcp", description: str = "") -> dict[str, Any]:
    return {"direction": "in", "protocol": protocol, "port": port, "sourceIps": sources, "description": description}


# --------------------------------------------------------------------------- SSH ----
@pytest.mark.parametrize(
    "bad",
    [
        rule("22", [WORLD4]),
        rule("22", [ADMIN, WORLD6]),
        rule("20-30", [WORLD4]),
        rule("any", [WORLD4]),
        rule("2222", [WORLD4], description="ssh admin"),
        rule("22", ["0::0/0"]),
    ],
    ids=["v4", "v6-among-admin", "range", "any-port", "by-description", "v6-spelled-out"],
)
def test_ssh_open_to_world_is_a_violation(bad: dict[str, Any]) -> None:
    assert rules.ssh_open_to_world([bad]), f"{bad} opens SSH to everyone"


def test_ssh_on_a_moved_port_is_checked_too() -> None:
    assert rules.ssh_open_to_world([rule("2222", [WORLD4])], ssh_ports=(22, 2222))
    assert not rules.ssh_open_to_world([rule("2222", [WORLD4])], ssh_ports=(22,))


@pytest.mark.parametrize(
    "good",
    [
        rule("22", [ADMIN], description="ssh admin"),
        rule("30303", [WORLD4, WORLD6], description="execution p2p"),
        rule("22", [WORLD4], protocol="udp"),
        {"direction": "out", "protocol": "tcp", "port": "22", "destinationIps": [WORLD4]},
        rule("", [WORLD4], protocol="icmp"),
    ],
    ids=["admin-only", "p2p", "udp", "outbound", "icmp"],
)
def test_ssh_rule_clean(good: dict[str, Any]) -> None:
    assert rules.ssh_open_to_world([good]) == []


def test_ssh_message_names_rule_and_fix() -> None:
    (msg,) = rules.ssh_open_to_world([rule("22", [WORLD4], description="ssh admin")])
    assert "tcp/22 (ssh admin)" in msg and "0.0.0.0/0" in msg and "adminCidrs" in msg


# --------------------------------------------------- RPC / engine / metrics in public ----
@pytest.mark.parametrize(
    "bad",
    [
        rule("8545", [WORLD4]),
        rule("8551", [WORLD6]),
        rule("5052", [WORLD4]),
        rule("9100", [WORLD4]),
        rule("9108", [WORLD4]),
        rule("8000-9000", [WORLD4]),  # covers 8545 and 8551
        rule("12345", [WORLD4], description="execution json-rpc"),
        rule("any", [WORLD4]),
    ],
    ids=["el-rpc", "engine", "beacon-api", "node-exporter", "status", "range", "by-description", "any"],
)
def test_sensitive_port_from_world_is_a_violation(bad: dict[str, Any]) -> None:
    assert rules.sensitive_port_public([bad])


@pytest.mark.parametrize(
    "good",
    [
        rule("8545", [ADMIN], description="execution json-rpc"),
        rule("30303", [WORLD4], description="execution p2p"),
        rule("9000", [WORLD4, WORLD6], protocol="udp", description="beacon discovery"),
        rule("443", [WORLD4], description="https"),
        rule("9001", [WORLD4, WORLD6], protocol="udp", description="beacon quic"),
        rule("443", [WORLD4, WORLD6], description="https rpc and status"),
    ],
    ids=["rpc-from-admin", "p2p", "discovery", "https", "quic-on-a-metrics-number", "web-proxy"],
)
def test_sensitive_port_clean(good: dict[str, Any]) -> None:
    assert rules.sensitive_port_public([good]) == []


def test_plan_port_marked_public_is_checked_by_number_and_purpose() -> None:
    assert rules.sensitive_exposure([{"port": 8545, "protocol": "tcp", "exposure": "public", "purpose": "x"}])
    assert rules.sensitive_exposure([{"port": 7777, "protocol": "tcp", "exposure": "public", "purpose": "metrics"}])
    assert not rules.sensitive_exposure([{"port": 8545, "protocol": "tcp", "exposure": "private", "purpose": "rpc"}])
    assert not rules.sensitive_exposure([{"port": 9000, "protocol": "tcp", "exposure": "public", "purpose": "p2p"}])
    assert not rules.sensitive_exposure([{"port": 9001, "protocol": "udp", "exposure": "public", "purpose": "quic"}])


def test_web_rpc_from_the_world_needs_basic_auth() -> None:
    assert rules.web_rpc_public({"enabled": True, "allowCidrs": [WORLD4], "basicAuth": False})
    assert rules.web_rpc_public({"enabled": True, "allowCidrs": [ADMIN, WORLD6], "basicAuth": False})
    assert rules.web_rpc_public({"enabled": True, "allowCidrs": [WORLD4], "basicAuth": True}) == []
    assert rules.web_rpc_public({"enabled": True, "allowCidrs": [ADMIN], "basicAuth": False}) == []
    assert rules.web_rpc_public({"enabled": False, "allowCidrs": [WORLD4], "basicAuth": False}) == []
    assert rules.web_rpc_public(None) == []


# ------------------------------------------------------------- validator protection ----
@pytest.mark.parametrize(
    ("rtype", "props", "protect"),
    [
        (rules.SERVER, {"deleteProtection": False, "rebuildProtection": True}, True),
        (rules.SERVER, {"deleteProtection": True, "rebuildProtection": False}, True),
        (rules.SERVER, {"deleteProtection": True, "rebuildProtection": True}, False),
        (rules.SERVER, {}, True),
        (rules.PRIMARY_IP, {"deleteProtection": False}, True),
        (rules.VOLUME, {"deleteProtection": True}, False),
    ],
    ids=["server-delete", "server-rebuild", "server-pulumi-protect", "server-unset", "ip", "volume-protect"],
)
def test_unprotected_validator_resource_is_a_violation(rtype: str, props: dict[str, Any], protect: bool) -> None:
    out = rules.validator_protection(rtype, props, protect, "validator")
    assert out and "host.protection" in out[-1]


def test_protected_validator_and_any_node_are_clean() -> None:
    full = {"deleteProtection": True, "rebuildProtection": True}
    assert rules.validator_protection(rules.SERVER, full, True, "validator") == []
    assert rules.validator_protection(rules.VOLUME, {"deleteProtection": True}, True, "validator") == []
    assert rules.validator_protection(rules.SERVER, {}, False, "node") == []
    assert rules.validator_protection(rules.FIREWALL, {}, False, "validator") == []


def test_validator_facts_protection() -> None:
    assert rules.validator_facts_protected({"stack": "v", "role": "validator", "protected": False})
    assert rules.validator_facts_protected({"stack": "v", "role": "validator"})
    assert rules.validator_facts_protected({"stack": "v", "role": "validator", "protected": True}) == []
    assert rules.validator_facts_protected({"stack": "n", "role": "node", "protected": False}) == []


# -------------------------------------------------------------------- artifact pins ----
PINNED = {
    "kind": "tarball",
    "name": "geth",
    "version": "1.16.7",
    "url": "https://example.invalid/geth-1.16.7.tar.gz",
    "pin": "sha256:" + "a" * 64,
}
OCI = {"kind": "oci", "name": "web", "version": "1.2.3", "url": "", "pin": "sha256:" + "b" * 64}
NPM = {
    "kind": "npm",
    "name": "@aztec/aztec",
    "version": "4.1.2",
    "url": "https://registry.npmjs.org/",
    "pin": "lockfile",
}
APT = {"kind": "apt", "name": "caddy", "version": "2.10.2-1", "url": "", "pin": "signed"}


@pytest.mark.parametrize(
    ("art", "needle"),
    [
        ({**PINNED, "pin": ""}, "no sha256"),
        ({**PINNED, "pin": "sha256:" + "A" * 64}, "no sha256"),
        ({**PINNED, "version": "latest"}, "not an exact version"),
        ({**PINNED, "version": ""}, "not an exact version"),
        ({**PINNED, "url": "http://example.invalid/geth.tar.gz"}, "not https"),
        ({**OCI, "pin": "latest"}, "no sha256 manifest digest"),
        ({**OCI, "url": "http://mirror.invalid/web.tar"}, "not https"),
        ({**NPM, "pin": ""}, "no lockfile"),
        ({**NPM, "version": "^4.1.2"}, "not an exact version"),
        ({**APT, "pin": ""}, "not from a signed repository"),
        ({**APT, "version": "2.*"}, "not an exact version"),
        ({**APT, "kind": "pip"}, "unknown artifact kind"),
    ],
    ids=[
        "unlocked",
        "not-hex",
        "latest",
        "no-version",
        "http",
        "oci-tag",
        "oci-http",
        "npm-no-lock",
        "npm-range",
        "apt-unsigned",
        "apt-wildcard",
        "unknown-kind",
    ],
)
def test_unpinned_artifact_is_a_violation(art: dict[str, str], needle: str) -> None:
    (msg,) = rules.unpinned_artifacts([art])
    assert msg.startswith(f"artifact {art['name']} ({art['kind']}):") and needle in msg


def test_pinned_artifacts_are_clean() -> None:
    jre = {**PINNED, "name": "jre", "version": "21.0.9+10"}
    assert rules.unpinned_artifacts([PINNED, jre, OCI, NPM, APT, {**APT, "version": "1:2.10.2-1+deb12u1"}]) == []
    assert rules.unpinned_artifacts([]) == []


# ----------------------------------------------------------------------- the facts ----
def test_missing_or_foreign_facts_fail_closed() -> None:
    facts, problems = rules.read_facts({})
    assert facts is None and "exports no policyFacts" in problems[0]
    facts, problems = rules.read_facts({"policyFacts": {"schema": 99}})
    assert facts is None and "schema" in problems[0]
    facts, problems = rules.read_facts({"policyFacts": {"schema": 1}})
    assert facts == {"schema": 1} and problems == []


def test_facts_rules_on_a_violating_and_a_clean_host() -> None:
    bad = {
        "schema": 1,
        "stack": "v",
        "role": "validator",
        "protected": False,
        "sshPort": 2222,
        "hostFirewall": [
            {"protocol": "tcp", "port": 2222, "sources": [WORLD4], "purpose": "ssh admin"},
            {"protocol": "tcp", "port": 8545, "sources": [WORLD4], "purpose": "execution json-rpc"},
        ],
        "ports": [{"protocol": "tcp", "port": 8545, "exposure": "public", "purpose": "execution json-rpc"}],
        "artifacts": [{**PINNED, "pin": ""}],
    }
    found = rules.facts_violations(bad)
    assert all(found.values()), found
    clean = {
        **bad,
        "protected": True,
        "hostFirewall": [{"protocol": "tcp", "port": 2222, "sources": [ADMIN], "purpose": "ssh admin"}],
        "ports": [{"protocol": "tcp", "port": 8545, "exposure": "private", "purpose": "execution json-rpc"}],
        "artifacts": [PINNED],
    }
    assert rules.facts_violations(clean) == {name: [] for name in found}


def test_numbers_arrive_as_floats_from_the_engine() -> None:
    """Measured with the real engine: policyFacts' port 22 reaches the pack as 22.0. It must
    read as port 22, not as an unreadable spec (which means 'every port')."""
    assert rules.port_range(22.0) == (22, 22)
    assert rules.port_range("22.0") == (22, 22)
    ssh = {"protocol": "tcp", "port": 22.0, "sources": [WORLD4], "purpose": "ssh admin"}
    assert rules.ssh_open_to_world([ssh])
    assert rules.sensitive_port_public([ssh]) == [], "port 22 is not an RPC port"
    facts = {"schema": 1.0, "role": "node", "sshPort": 22.0, "hostFirewall": [], "ports": [], "artifacts": []}
    assert rules.read_facts({"policyFacts": facts})[0] is not None
