"""The inbound allow-list, one source for the host firewall (ufw) and the cloud firewall."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infrakit.plan.model import HostPlan, OpenPort

WORLD = ("0.0.0.0/0", "::/0")


@dataclass(frozen=True)
class InboundRule:
    protocol: str
    port: int
    sources: tuple[str, ...]
    purpose: str

    @property
    def tag(self) -> str:
        return "infrakit-" + "".join(c if c.isalnum() else "-" for c in self.purpose.lower())


def inbound_rules(
    ssh_ports: int | Iterable[int], admin_cidrs: Iterable[str], ports: Iterable[OpenPort]
) -> list[InboundRule]:
    """SSH from the admin CIDRs, then each public port from anywhere. Nothing else.

    `ssh_ports`: sshPort, then (during a port migration) the previous port, kept open until
    the migration's second phase drops it."""
    listed = (ssh_ports,) if isinstance(ssh_ports, int) else tuple(ssh_ports)
    cidrs = tuple(admin_cidrs)
    rules = [
        InboundRule("tcp", port, cidrs, "ssh admin" if i == 0 else "ssh admin previous port")
        for i, port in enumerate(listed)
    ]
    rules += [InboundRule(p.protocol, p.port, WORLD, p.purpose) for p in ports if p.exposure == "public"]
    return rules


FIREWALL_STEP = "firewall_ufw"


def lockout_guard(plan: HostPlan) -> dict[str, Any] | None:
    """What a control plane needs to refuse a lock-out before the first step (None: the plan
    has no host firewall): the SSH admit set. Only a change of it can newly lock someone out
    (a firewall step re-run with the same CIDRs and port admits whom it admitted), so the
    Pulumi path (components/remote: the Host resource) re-checks exactly when it changes,
    and an edit of the firewall script alone updates no Host."""
    planned = next((p for p in plan.steps if p.step.name == FIREWALL_STEP), None)
    if planned is None:
        return None
    return {
        "stack": plan.stack,
        "adminCidrs": planned.step.params["ADMIN_CIDRS"].split(),
        "sshPort": int(planned.step.params["SSH_PORT"]),
    }


def lockout_problem(plan: HostPlan, client: str, who: str = "this apply") -> str | None:
    """Why applying `plan` from `client` (the address the host sees, SSH_CLIENT) would lock
    the operator out, or None. The firewall step's own guard refuses the same, but only when
    it runs: by then earlier steps (sshd, sysctl) have changed the host, so every control
    plane checks this before its first step."""
    guard = lockout_guard(plan)
    return guard_problem(guard, client, who) if guard else None


def guard_problem(guard: Mapping[str, Any], client: str, who: str) -> str | None:
    """`lockout_problem` from a `lockout_guard` (as the Pulumi Host resource holds it)."""
    if not client:
        return None  # no address reported: the firewall step's own guard decides
    stack = guard["stack"]
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return (
            f"stack '{stack}': the host reports {who}'s connection as coming from {client!r}, which is not "
            "an IP address, so access.adminCidrs cannot be checked against it. Nothing was changed"
        )
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    cidrs = [str(c) for c in guard["adminCidrs"]]
    if any(ip in net for net in map(ipaddress.ip_network, cidrs) if net.version == ip.version):
        return None
    return (
        f"{who} comes from {ip}, which is in none of stack '{stack}' access.adminCidrs ({', '.join(cidrs)}): "
        f"its firewall would lock the operator out of SSH on port {guard['sshPort']}. Nothing was changed; "
        "expected access.adminCidrs to include the address the host sees (add it) or a run from inside them"
    )
