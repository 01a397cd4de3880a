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
# The artifact kinds (infrakit/artifacts/): the script each one's step runs.
TARBALL_SCRIPT = "shared/artifacts/install_artifact.sh"
APT_SCRIPT = "shared/artifacts/apt_package.sh"
NPM_SCRIPT = "shared/artifacts/npm_package.sh"
OCI_SCRIPT = "shared/artifacts/oci_image.sh"


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
        "protected": plan.protected,
        "holdsKeys": plan.holds_keys,
        "sshPort": plan.ssh_port,
        "hostFirewall": [
            {"protocol": r.protocol, "port": r.port, "sources": list(r.sources), "purpose": r.purpose}
            for r in inbound_rules(plan.ssh_ports, plan.admin_cidrs, plan.ports)
        ],
        "ports": [
            {"protocol": p.protocol, "port": p.port, "exposure": p.exposure, "purpose": p.purpose} for p in plan.ports
        ],
        "artifacts": artifacts(plan),
        "webRpc": {
            "enabled": config.web.enabled,
            "allowCidrs": list(config.web.rpc_allow_cidrs),
            "basicAuth": config.web.rpc_basic_auth_user is not None,
        },
    }


def artifacts(plan: HostPlan) -> list[dict[str, str]]:
    """Every artifact a host installs, with what pins it: `pin` is a sha256 for a tarball, the
    manifest digest for an OCI image, "lockfile" for npm (sha512 of every package), "signed" for
    an apt package from a repository whose key the step ships; "" when nothing pins it."""
    out = []
    for planned in plan.steps:
        step = planned.step
        params = step.params
        files = {f.name for f in step.files}
        if step.script == TARBALL_SCRIPT:
            digest = params.get("ARTIFACT_SHA256", "")
            kind, name, version = "tarball", params.get("ARTIFACT_NAME", ""), params.get("ARTIFACT_VERSION", "")
            url, pin = params.get("ARTIFACT_URL", ""), f"sha256:{digest}" if digest else ""
        elif step.script == OCI_SCRIPT:
            kind, name, version = "oci", params.get("OCI_NAME", ""), params.get("OCI_VERSION", "")
            url, pin = params.get("OCI_ARCHIVE_URL", ""), params.get("OCI_DIGEST", "")
        elif step.script == NPM_SCRIPT:
            kind, name, version = "npm", params.get("NPM_PACKAGE", ""), params.get("NPM_VERSION", "")
            url, pin = params.get("NPM_REGISTRY", ""), "lockfile" if "package-lock.json" in files else ""
        elif step.script == APT_SCRIPT:
            kind, name, version = "apt", params.get("APT_PACKAGE", ""), params.get("APT_VERSION", "")
            url, pin = "", "signed" if any(n.endswith(".asc") for n in files) else ""
        else:
            continue
        out.append({"kind": kind, "step": step.name, "name": name, "version": version, "url": url, "pin": pin})
    return out
