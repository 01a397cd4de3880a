"""The inbound allow-list, one source for the host firewall (ufw) and the cloud firewall."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

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


def lockout_problem(plan: HostPlan, client: str) -> str | None:
    """Why applying `plan` from `client` (the address the host sees, SSH_CLIENT) would lock
    the operator out, or None. The firewall step's own guard refuses the same, but only when
    it runs: by then earlier steps (sshd, sysctl) have changed the host, so every control
    plane checks this before its first step."""
    firewall = next((p.step for p in plan.steps if p.step.name == FIREWALL_STEP), None)
    if firewall is None or not client:
        return None
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return f"the host reports this connection as coming from {client!r}, which is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    cidrs = firewall.params["ADMIN_CIDRS"].split()
    if any(ip in ipaddress.ip_network(cidr) for cidr in cidrs if ipaddress.ip_network(cidr).version == ip.version):
        return None
    return (
        f"this apply comes from {ip}, which is in none of access.adminCidrs ({', '.join(cidrs)}): "
        f"its firewall would lock the operator out of SSH on port {firewall.params['SSH_PORT']}. "
        "Nothing was changed; add this address to access.adminCidrs or apply from inside them"
    )
