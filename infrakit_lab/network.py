"""Lab networking: per-host veth addresses, IPv4 forwarding and the lab's nft table.

Every host NAME gets ``10.199.<idx>.0/24`` (idx from ``config.host_index``): the host
side of nspawn's veth ``ve-NAME`` is ``.1``, the guest's ``host0`` is ``.2`` with a
default route via ``.1``. For apt inside guests the lab sets ``net.ipv4.ip_forward=1``
(the previous value is saved in ``<state>/ip_forward.orig`` and restored when the last
host goes) and masquerades ``10.199.0.0/16`` in its own table ``inet infrakit_lab``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infrakit_lab.config import host_index
from infrakit_lab.errors import LabError
from infrakit_lab.proc import run

LAB_SUBNET = "10.199.0.0/16"
LAB_PREFIX = "10.199."
NFT_FAMILY = "inet"
NFT_TABLE = "infrakit_lab"
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")

_NFT_RULESET = f"""\
table {NFT_FAMILY} {NFT_TABLE} {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr {LAB_SUBNET} ip daddr != {LAB_SUBNET} masquerade
    }}
}}
"""


@dataclass(frozen=True)
class Addresses:
    idx: int
    host_side: str  # 10.199.idx.1, on ve-NAME
    guest: str  # 10.199.idx.2, on the guest's host0
    prefix: int = 24

    @property
    def host_side_cidr(self) -> str:
        return f"{self.host_side}/{self.prefix}"

    @property
    def guest_cidr(self) -> str:
        return f"{self.guest}/{self.prefix}"


def addresses_for_index(idx: int) -> Addresses:
    return Addresses(idx=idx, host_side=f"10.199.{idx}.1", guest=f"10.199.{idx}.2")


def addresses_for(name: str) -> Addresses:
    """The preferred addresses of NAME (a running host's are in its record: see addresses.py)."""
    return addresses_for_index(host_index(name))


def veth_name(name: str) -> str:
    """nspawn's host-side interface for ``--network-veth --machine=NAME``."""
    return f"ve-{name}"


def guest_network_unit(addrs: Addresses) -> str:
    """systemd-networkd config for the guest's ``host0`` (static, no DHCP, no RA)."""
    return (
        "[Match]\nName=host0\n\n"
        "[Network]\n"
        f"Address={addrs.guest_cidr}\n"
        f"Gateway={addrs.host_side}\n"
        "LinkLocalAddressing=no\n"
        "IPv6AcceptRA=no\n"
    )


def link_exists(ifname: str) -> bool:
    return Path("/sys/class/net", ifname).exists()


def lab_addresses_on_links() -> dict[str, str]:
    """Host-side lab addresses on this machine's links, of any state dir: {ip: link}."""
    result = run(["ip", "-o", "-4", "addr", "show"], timeout=10)
    found = {}
    for line in result.stdout.splitlines():
        words = line.split()
        if len(words) >= 4 and words[2] == "inet" and words[3].startswith(LAB_PREFIX):
            found[words[3].split("/")[0]] = words[1]
    return found


def indexes_on_links() -> set[int]:
    """The lab indexes whose host-side address (10.199.<idx>.1) is on a link of this machine."""
    found = set()
    for ip in lab_addresses_on_links():
        parts = ip.split(".")
        if len(parts) == 4 and parts[3] == "1" and parts[2].isdigit():
            found.add(int(parts[2]))
    return found


def wait_for_link(ifname: str, *, timeout: float, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout
    while not link_exists(ifname):
        if not alive():
            raise LabError(f"systemd-nspawn exited before creating {ifname}")
        if time.monotonic() >= deadline:
            raise LabError(f"{ifname} did not appear within {timeout:g} s")
        time.sleep(0.05)


def configure_host_side(ifname: str, addrs: Addresses) -> None:
    run(["ip", "addr", "replace", addrs.host_side_cidr, "dev", ifname], timeout=10)
    run(["ip", "link", "set", ifname, "up"], timeout=10)


def delete_link(ifname: str) -> None:
    if link_exists(ifname):
        run(["ip", "link", "delete", ifname], timeout=10, check=False)


def wait_link_gone(ifname: str, *, timeout: float) -> None:
    """nspawn's veth goes with the container's netns; delete it if it lingers."""
    deadline = time.monotonic() + timeout
    while link_exists(ifname) and time.monotonic() < deadline:
        time.sleep(0.1)
    delete_link(ifname)


def enable_forwarding(state: Path) -> None:
    """Set ip_forward=1, saving the previous value the first time."""
    saved = state / "ip_forward.orig"
    if not saved.exists():
        saved.write_text(IP_FORWARD.read_text().strip() + "\n")
    IP_FORWARD.write_text("1\n")


def restore_forwarding(state: Path) -> None:
    saved = state / "ip_forward.orig"
    if saved.exists():
        IP_FORWARD.write_text(saved.read_text().strip() + "\n")
        saved.unlink()


def nft_table_exists() -> bool:
    result = run(["nft", "list", "table", NFT_FAMILY, NFT_TABLE], timeout=10, check=False)
    return result.returncode == 0


def ensure_masquerade() -> None:
    if not nft_table_exists():
        run(["nft", "-f", "-"], input_text=_NFT_RULESET, timeout=10)


def delete_masquerade() -> None:
    if nft_table_exists():
        run(["nft", "delete", "table", NFT_FAMILY, NFT_TABLE], timeout=10)


def sshd_answers(address: str, port: int = 22, *, timeout: float = 1.0) -> bool:
    """True when something at ``address:port`` sends an SSH banner."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(8).startswith(b"SSH-")
    except OSError:
        return False
