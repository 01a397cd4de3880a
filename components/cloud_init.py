"""cloud-init user data for a new hcloud server: the admin user exists before any step.

Every step connects as the admin user, so the user must exist on first boot. Later
changes to users and keys are made by the `create_user` step, never by re-creating the
server (the Server ignores changes to this user data).
"""

from __future__ import annotations

import yaml

from infrakit.config.models import StackConfig


def user_data(config: StackConfig, host_key: tuple[str, str] | None = None) -> str:
    """The #cloud-config; with host_key (private, public), sshd's ed25519 host key is that
    pair from first boot, so the first connection can already be checked against it."""
    doc: dict[str, object] = {
        "users": [
            {
                "name": config.access.admin_user,
                "shell": "/bin/bash",
                "lock_passwd": True,
                "sudo": "ALL=(ALL:ALL) NOPASSWD: ALL",
                "ssh_authorized_keys": list(config.access.admin_keys),
            }
        ],
        "ssh_pwauth": False,
        "package_update": False,
    }
    if host_key:
        doc["ssh_keys"] = {"ed25519_private": host_key[0], "ed25519_public": host_key[1]}
    return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=True)
