"""Build a HostPlan from a validated stack: base primitives first, then the chain adapter."""

from __future__ import annotations

from adapters import registry
from infrakit.config.loader import Stack
from infrakit.plan.base import base_steps
from infrakit.plan.model import HealthCheck, HostPlan, plan_steps


def build_plan(stack: Stack) -> HostPlan:
    config = stack.config
    parts = registry.get(config.chain).parts(stack)
    steps = base_steps(stack, parts.ports, parts.packages) + parts.steps
    checks = [
        HealthCheck(name="sshd", kind="systemd", target="ssh.service"),
        HealthCheck(name="chrony", kind="systemd", target="chrony.service"),
    ]
    if config.hardening.fail2ban.enabled:
        checks.append(HealthCheck(name="fail2ban", kind="systemd", target="fail2ban.service"))
    checks.extend(parts.health_checks)
    return HostPlan(
        stack=stack.name,
        chain=config.chain,
        role=config.role,
        network=config.network,
        ssh_port=config.access.ssh_port,
        admin_cidrs=tuple(config.access.admin_cidrs),
        steps=plan_steps(steps),
        ports=tuple(parts.ports),
        services=tuple(parts.services),
        health_checks=tuple(checks),
    )
