"""The lock-out guard as far as a preview can tell, without logging in to the host.

`pulumi up` checks the operator's address as the host sees it (the Host resource's login,
before the bundle and every step). A preview makes no SSH connection, so it estimates that
address: the source address this machine would use to reach the host (a UDP socket's
`connect` picks the route and sends nothing). Behind NAT the host sees another address, so
the estimate is only shown when no NAT is likely between the two (not a private address
reaching a public one), and as a warning: the refusal itself is `pulumi up`'s, from the host.
"""

from __future__ import annotations

import ipaddress
import socket

from infrakit.plan.firewall import lockout_problem
from infrakit.plan.model import HostPlan


def local_source_address(host: str, port: int) -> str:
    """The address this machine would send from to reach `host` (an IP literal), or ""."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return ""  # a name: resolving it is not a preview's business
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((str(ip), port))
            return str(probe.getsockname()[0])
    except OSError:
        return ""  # no route from here: the preview cannot tell


def nat_likely(source: str, host: str) -> bool:
    src, dst = ipaddress.ip_address(source), ipaddress.ip_address(host)
    return src.is_private and dst.is_global


def preview_lockout_warning(plan: HostPlan, host: str, port: int) -> str | None:
    """The lock-out problem for this machine's own address, when the preview can tell."""
    source = local_source_address(host, port)
    if not source or nat_likely(source, host):
        return None
    problem = lockout_problem(plan, source, who="a `pulumi up` from this machine")
    if problem is None:
        return None
    return (
        f"{problem} (estimated from this machine's route to {host}; `pulumi up` checks the address "
        "the host sees and refuses before the bundle and the first step)"
    )
