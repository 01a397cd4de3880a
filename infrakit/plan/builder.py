"""Build a HostPlan from a validated stack: base primitives first, then the chain adapter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infrakit.config.errors import ConfigError
from infrakit.plan.base import BASE_PACKAGES, base_steps
from infrakit.plan.model import HealthCheck, HostPlan, plan_steps
from infrakit.plan.monitoring import monitoring_parts
from infrakit.plan.web import web_parts

if TYPE_CHECKING:
    from infrakit.chain.contract import ChainParts
    from infrakit.config.loader import Stack


def build_plan(stack: Stack) -> HostPlan:
    """The stack's plan; its chain's part comes from the adapter the loader resolved."""
    config = stack.config
    parts = stack.adapter.parts(stack)
    _check_parts(stack, parts)
    checks = [
        HealthCheck(name="sshd", kind="systemd", target="ssh.service"),
        HealthCheck(name="chrony", kind="systemd", target="chrony.service"),
    ]
    if config.hardening.fail2ban.enabled:
        checks.append(HealthCheck(name="fail2ban", kind="systemd", target="fail2ban.service"))
    checks.extend(parts.health_checks)
    # After the adapter: the web tier fronts its RPC, then monitoring watches everything.
    web = web_parts(stack)
    checks.extend(web.health_checks)
    packages = [*BASE_PACKAGES, *parts.packages, *web.packages]  # versions reported by the status page
    mon = monitoring_parts(stack, checks, [*parts.services, *web.services], packages, parts.data_dirs)
    checks.extend(mon.health_checks)
    ports = [*parts.ports, *mon.ports, *web.ports]
    steps = base_steps(stack, ports, parts.packages) + parts.steps + web.steps + mon.steps
    return HostPlan(
        stack=stack.name,
        chain=config.chain,
        role=config.role,
        network=config.network,
        holds_keys=stack.holds_keys,
        protected=stack.protected,
        ssh_port=config.access.ssh_port,
        previous_ssh_port=config.access.previous_ssh_port,
        admin_cidrs=tuple(config.access.admin_cidrs),
        steps=plan_steps(steps),
        ports=tuple(ports),
        services=(*parts.services, *mon.services, *web.services),
        health_checks=tuple(checks),
        blockers=tuple(parts.blockers),
        warnings=tuple(parts.warnings),
        smoke_test=parts.smoke_test,
    )


def _check_parts(stack: Stack, parts: ChainParts) -> None:
    """What the contract promises and a type cannot say: the smoke test is one of the chain's steps."""
    names = [step.name for step in parts.steps]
    if parts.smoke_test is not None and parts.smoke_test not in names:
        raise ConfigError(
            stack.name,
            [(f"chain {stack.adapter.name}", f"smoke test {parts.smoke_test!r} is not one of its steps ({names})")],
        )
