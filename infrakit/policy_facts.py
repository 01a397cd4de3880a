"""The facts the policy pack (policy/) checks, as one plain-data stack output.

The cloud resources carry some of what the policy rules need (hcloud Firewall rules, Server
protection flags, labels with the role). What only the plan knows is exported here: the host
firewall's inbound rules (ufw applies them on every target, also on existing hosts, which have
no cloud firewall), the ports and their exposure, whether the stack is protected, and every
artifact a host will download with its pin. The program exports it as the stack output
`policyFacts` (`pulumi.export(FACTS_OUTPUT, policy_facts(stack, plan))`); the pack reads it from
the root stack resource. No secret goes in here: names, ports, CIDRs, URLs and hashes only.
"""

from __future__ import annotations

from typing import Any

from infrakit.config.loader import Stack
from infrakit.config.models import HcloudTarget
from infrakit.plan.firewall import inbound_rules
from infrakit.plan.model import HostPlan

FACTS_OUTPUT = "policyFacts"
FACTS_SCHEMA = 1
# The generic pinned-artifact step (infrakit.artifacts.pinned); its params name the pin.
ARTIFACT_SCRIPT = "shared/artifacts/install_artifact.sh"


def policy_facts(stack: Stack, plan: HostPlan) -> dict[str, Any]:
    """Plain JSON-able data; the keys are the pack's contract (policy/infrakit_policy/facts.py)."""
    config = stack.config
    return {
        "schema": FACTS_SCHEMA,
        "stack": plan.stack,
        "chain": plan.chain,
        "role": plan.role,
        "network": plan.network,
        "target": "hcloud" if isinstance(config.host, HcloudTarget) else "existing",
        "protected": config.protected,
        "sshPort": plan.ssh_port,
        "hostFirewall": [
            {"protocol": r.protocol, "port": r.port, "sources": list(r.sources), "purpose": r.purpose}
            for r in inbound_rules(plan.ssh_port, plan.admin_cidrs, plan.ports)
        ],
        "ports": [
            {"protocol": p.protocol, "port": p.port, "exposure": p.exposure, "purpose": p.purpose} for p in plan.ports
        ],
        "artifacts": artifacts(plan),
    }


def artifacts(plan: HostPlan) -> list[dict[str, str]]:
    """Every pinned download of the plan: name, version, URL and the sha256 it is checked against."""
    out = []
    for planned in plan.steps:
        step = planned.step
        if step.script != ARTIFACT_SCRIPT:
            continue
        params = step.params
        out.append(
            {
                "step": step.name,
                "name": params.get("ARTIFACT_NAME", ""),
                "version": params.get("ARTIFACT_VERSION", ""),
                "url": params.get("ARTIFACT_URL", ""),
                "sha256": params.get("ARTIFACT_SHA256", ""),
            }
        )
    return out
