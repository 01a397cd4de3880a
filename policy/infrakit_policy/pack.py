"""The policies: the rules of rules.py wired to Pulumi CrossGuard (pulumi-policy).

Resource policies check what the cloud resources carry (hcloud Firewall rules, protection flags);
stack policies check the program's `policyFacts` output (the host firewall on every target,
existing hosts' protection, artifact pins). Every policy is mandatory: a violation fails the
preview and the update. To relax one for a stack, pass `--policy-pack-config` with that
policy's enforcementLevel (e.g. advisory), never by editing the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infrakit_policy import rules

PACK_NAME = "infrakit"
MANDATORY = EnforcementLevel.MANDATORY


# The engine hands an analyzer the resources, not the stack's config (pulumi-policy 1.21
# ignores ConfigureStack's config), so the role comes from what the resources carry: the
# hcloud resources' `role` label, and `role` in the policyFacts output.
SSH_PORTS = (22,)  # plus any rule described as SSH (the program describes its rule "ssh admin")


def _report_all(report: ReportViolation, messages: list[str], urn: str | None = None) -> None:
    for message in messages:
        report(message, urn)


# ------------------------------------------------------------------ resource policies ----
def check_firewall_ssh(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == rules.FIREWALL:
        _report_all(report, rules.ssh_open_to_world(args.props.get("rules"), SSH_PORTS))


def check_firewall_sensitive(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == rules.FIREWALL:
        _report_all(report, rules.sensitive_port_public(args.props.get("rules")))


def check_validator_protection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    labels = args.props.get("labels") or {}
    role = labels.get("role") if isinstance(labels, Mapping) else None
    _report_all(report, rules.validator_protection(args.resource_type, args.props, bool(args.opts.protect), role))


# --------------------------------------------------------------------- stack policies ----
def _root_outputs(resources: list[PolicyResource]) -> Mapping[str, Any] | None:
    for resource in resources:
        if resource.resource_type == rules.STACK:
            return resource.props
    return None


def stack_check(policy_name: str) -> Callable[[StackValidationArgs, ReportViolation], None]:
    """The facts rules of one policy; a missing or foreign facts output is itself a violation."""

    def check(args: StackValidationArgs, report: ReportViolation) -> None:
        facts, problems = rules.read_facts(_root_outputs(args.resources))
        if facts is None:
            _report_all(report, problems)
            return
        _report_all(report, rules.facts_violations(facts)[policy_name])

    return check


DESCRIPTIONS = {
    "ssh-not-open-to-world": "SSH is never open to the world (cloud and host firewall).",
    "no-public-rpc-engine-metrics": "No RPC, engine API, metrics or monitoring port is reachable from the world.",
    "validator-protected": "Validator stacks have delete/rebuild protection (Hetzner and Pulumi).",
    "artifacts-pinned": "Every artifact is pinned: an exact version and a sha256, digest, lockfile or signed repo.",
}


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    return [
        ResourceValidationPolicy(
            name="ssh-not-open-to-world-cloud",
            description=DESCRIPTIONS["ssh-not-open-to-world"],
            enforcement_level=MANDATORY,
            validate=check_firewall_ssh,
        ),
        ResourceValidationPolicy(
            name="no-public-rpc-engine-metrics-cloud",
            description=DESCRIPTIONS["no-public-rpc-engine-metrics"],
            enforcement_level=MANDATORY,
            validate=check_firewall_sensitive,
        ),
        ResourceValidationPolicy(
            name="validator-protected-cloud",
            description=DESCRIPTIONS["validator-protected"],
            enforcement_level=MANDATORY,
            validate=check_validator_protection,
        ),
        *[
            StackValidationPolicy(name=name, description=text, enforcement_level=MANDATORY, validate=stack_check(name))
            for name, text in DESCRIPTIONS.items()
        ],
    ]
