"""The lab's published key pair is one the product refuses outside the lab's own networks.

The product (infrakit/) never reads the lab package: it lists the key as data. This test is
the link: a new lab key, or a lab network moved, fails here instead of silently letting the
published key open a real server.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from infrakit.config.published_keys import PUBLISHED_KEYS
from infrakit_lab import network

KEY_DIR = Path(__file__).resolve().parents[2] / "infrakit_lab" / "insecure_key"


def test_the_lab_public_key_is_listed_as_published() -> None:
    blob = (KEY_DIR / "lab_admin_ed25519.pub").read_text(encoding="utf-8").split()[1]
    assert blob in {key.blob for key in PUBLISHED_KEYS}


def test_the_listed_networks_are_exactly_the_lab_networks() -> None:
    blob = (KEY_DIR / "lab_admin_ed25519.pub").read_text(encoding="utf-8").split()[1]
    (listed,) = [key for key in PUBLISHED_KEYS if key.blob == blob]
    lab = ipaddress.ip_network(network.LAB_SUBNET)
    assert lab in listed.networks
    # beyond the lab's veth network only loopback (the VM lane's forwarded SSH port)
    assert all(net == lab or net.is_loopback for net in listed.networks)
