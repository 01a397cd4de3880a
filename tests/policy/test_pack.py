"""The pack's wiring: each policy, called the way the analyzer calls it, reports the rule's
violations against the right resource type, and the pack starts under the pinned
pulumi-policy and pulumi versions (it prints the port of its analyzer server)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from infrakit_policy import pack, rules
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from tests.policy.conftest import POLICY_DIR


def _opts(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _policy(name: str) -> ResourceValidationPolicy | StackValidationPolicy:
    (found,) = [p for p in pack.policies() if p.name == name]
    return found


def _resource_violations(name: str, rtype: str, props: dict[str, Any], protect: bool = False) -> list[str]:
    policy = _policy(name)
    assert isinstance(policy, ResourceValidationPolicy)
    seen: list[str] = []
    args = ResourceValidationArgs(rtype, props, f"urn:pulumi:s::infrakit::{rtype}::r", "r", _opts(protect), None)
    policy.validate(args, lambda msg, urn=None: seen.append(msg))
    return seen


def _stack_violations(name: str, outputs: dict[str, Any] | None) -> list[str]:
    policy = _policy(name)
    assert isinstance(policy, StackValidationPolicy)
    resources = []
    if outputs is not None:
        resources.append(
            PolicyResource(
                rules.STACK,
                outputs,
                "urn:pulumi:s::infrakit::pulumi:pulumi:Stack::infrakit-s",
                "infrakit-s",
                _opts(),
                None,
                None,
                [],
                {},
            )
        )
    seen: list[str] = []
    policy.validate(StackValidationArgs(resources), lambda msg, urn=None: seen.append(msg))
    return seen


def test_every_policy_is_mandatory_and_named_once() -> None:
    names = [p.name for p in pack.policies()]
    assert len(names) == len(set(names)) == 7
    assert all(p.enforcement_level == pack.MANDATORY for p in pack.policies())


def test_cloud_firewall_policies() -> None:
    world_ssh = {"rules": [{"direction": "in", "protocol": "tcp", "port": "22", "sourceIps": ["0.0.0.0/0"]}]}
    world_rpc = {"rules": [{"direction": "in", "protocol": "tcp", "port": "8545", "sourceIps": ["::/0"]}]}
    clean = {"rules": [{"direction": "in", "protocol": "tcp", "port": "22", "sourceIps": ["198.51.100.0/24"]}]}
    assert _resource_violations("ssh-not-open-to-world-cloud", rules.FIREWALL, world_ssh)
    assert not _resource_violations("ssh-not-open-to-world-cloud", rules.FIREWALL, clean)
    assert _resource_violations("no-public-rpc-engine-metrics-cloud", rules.FIREWALL, world_rpc)
    assert not _resource_violations("no-public-rpc-engine-metrics-cloud", rules.FIREWALL, clean)
    # Another resource type with the same property is not a firewall.
    assert not _resource_violations("ssh-not-open-to-world-cloud", rules.SERVER, world_ssh)


def test_validator_protection_policy_reads_the_role_label() -> None:
    name = "validator-protected-cloud"
    unprotected = {"labels": {"role": "validator"}, "deleteProtection": False, "rebuildProtection": False}
    protected = {"labels": {"role": "validator"}, "deleteProtection": True, "rebuildProtection": True}
    assert len(_resource_violations(name, rules.SERVER, unprotected, protect=False)) == 4
    assert _resource_violations(name, rules.SERVER, protected, protect=True) == []
    assert _resource_violations(name, rules.SERVER, {**unprotected, "labels": {"role": "node"}}) == []


@pytest.mark.parametrize(
    "name", ["ssh-not-open-to-world", "no-public-rpc-engine-metrics", "validator-protected", "artifacts-pinned"]
)
def test_stack_policies_fail_closed_without_facts(name: str) -> None:
    assert _stack_violations(name, {}) and _stack_violations(name, None)


def test_stack_policies_on_facts() -> None:
    facts = {
        "schema": 1,
        "stack": "v",
        "role": "validator",
        "protected": False,
        "sshPort": 22,
        "hostFirewall": [{"protocol": "tcp", "port": 22, "sources": ["0.0.0.0/0"], "purpose": "ssh admin"}],
        "ports": [],
        "artifacts": [],
    }
    assert _stack_violations("ssh-not-open-to-world", {"policyFacts": facts})
    assert _stack_violations("validator-protected", {"policyFacts": facts})
    assert _stack_violations("artifacts-pinned", {"policyFacts": facts}) == []
    assert _stack_violations("no-public-rpc-engine-metrics", {"policyFacts": facts}) == []


def test_pack_starts_and_serves(tmp_path: Any) -> None:
    """`python policy` is what the engine's Python language host runs for a policy pack."""
    proc = subprocess.Popen(
        [sys.executable, "-u", str(POLICY_DIR), "127.0.0.1:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.isdigit() and 0 < int(line) < 65536, f"no port printed: {line!r} {proc.stderr}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
