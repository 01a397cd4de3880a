"""Host prerequisites of the lab: root and the Debian packages it drives."""

from __future__ import annotations

import os
from pathlib import Path

from infrakit_lab.errors import LabError
from infrakit_lab.proc import run, which

# tool the lab runs -> Debian package that ships it (scripts/lab-host-packages.sh installs them)
REQUIRED_TOOLS: dict[str, str] = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "nft": "nftables",
    "zstd": "zstd",
    "ip": "iproute2",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
}
VM_TOOLS: dict[str, str] = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "mkfs.ext4": "e2fsprogs",
}

_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "lab-host-packages.sh"


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (mounts, veth links, nftables): run it as root")


def missing_host_packages(*, vm: bool = False) -> list[str]:
    """Debian packages whose tools are not on PATH (sbin included), sorted."""
    tools = dict(REQUIRED_TOOLS)
    if vm:
        tools.update(VM_TOOLS)
    return sorted({pkg for tool, pkg in tools.items() if which(tool) is None})


def require_host_packages(*, vm: bool = False) -> None:
    missing = missing_host_packages(vm=vm)
    if missing:
        raise LabError(
            f"missing host packages: {' '.join(missing)} "
            "(install them with scripts/lab-host-packages.sh or `infrakit lab packages`)"
        )


def ensure_host_packages(*, vm: bool = False, timeout: float = 1200.0) -> bool:
    """Install the lab's host packages with apt if any is missing; True if it changed.

    A quick no-op when everything is present. Needs root.
    """
    require_root()
    if not missing_host_packages(vm=vm):
        return False
    if not _SCRIPT.is_file():
        raise LabError(f"host package script not found: {_SCRIPT}")
    env = {"INFRAKIT_LAB_VM": "1"} if vm else None
    result = run(["bash", str(_SCRIPT)], timeout=timeout, env=env)
    require_host_packages(vm=vm)
    return "changed=1" in result.stdout
