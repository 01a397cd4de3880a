"""SSH public keys whose private half is public: each may open only the networks it was published for.

A published key pair (like Vagrant's insecure key) is handy on throwaway test hosts and a
disaster on a real server: anyone can log in with it. `load()` refuses such a key in any stack
whose host address is outside the key's networks. The product knows these keys as data only;
the lab package that publishes its pair checks that it is listed here (tests/infrakit_lab).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from infrakit.config.errors import NAMESPACE
from infrakit.config.models import ExistingTarget, StackConfig

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class PublishedKey:
    blob: str  # the base64 key body, the second field of an OpenSSH public key line
    name: str  # where its private half is published, for the error message
    networks: tuple[Network, ...]  # the only host addresses it may open


PUBLISHED_KEYS: tuple[PublishedKey, ...] = (
    PublishedKey(
        blob="AAAAC3NzaC1lZDI1NTE5AAAAIATnZ2Zk4Zj1dvWKRctgixozWmEH8wyBozSdGt+RtSri",
        name="the published lab-only key (infrakit_lab/insecure_key)",
        # the lab's veth network, and loopback: the VM lane's forwarded SSH port
        networks=(
            ipaddress.ip_network("10.199.0.0/16"),
            ipaddress.ip_network("127.0.0.0/8"),
            ipaddress.ip_network("::1/128"),
        ),
    ),
)


def published_key_problems(config: StackConfig) -> list[tuple[str, str]]:
    """One problem per admin key that is published and would open a host outside its networks."""
    by_blob = {key.blob: key for key in PUBLISHED_KEYS}
    address = config.host.address if isinstance(config.host, ExistingTarget) else None
    problems = []
    for i, line in enumerate(config.access.admin_keys):
        fields = line.split()
        published = by_blob.get(fields[1]) if len(fields) > 1 else None
        if published is not None and not _within(address, published.networks):
            problems.append(
                (f"{NAMESPACE}:access.adminKeys[{i}]", f"is {published.name}; use your own key for a real host")
            )
    return problems


def _within(address: str | None, networks: tuple[Network, ...]) -> bool:
    if address is None:
        return False  # a cloud server's address is not known yet: never a test network
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # a host name may resolve anywhere
    return any(ip in net for net in networks)
