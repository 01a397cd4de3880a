"""The inbound allow-list, one source for the host firewall (ufw) and the cloud firewall."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from infrakit.plan.model import OpenPort

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


def inbound_rules(ssh_port: int, admin_cidrs: Iterable[str], ports: Iterable[OpenPort]) -> list[InboundRule]:
    """SSH from the admin CIDRs, then each public port from anywhere. Nothing else."""
    rules = [InboundRule("tcp", ssh_port, tuple(admin_cidrs), "ssh admin")]
    rules += [InboundRule(p.protocol, p.port, WORLD, p.purpose) for p in ports if p.exposure == "public"]
    return rules
