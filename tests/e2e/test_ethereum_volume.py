"""Chain data on the stack's volume, on a real Debian 12 lab host with a loop device.

A Hetzner volume appears as /dev/disk/by-id/scsi-0HC_Volume_<id>. Here a loop device over an
ext4 image stands in for it: the test creates the node under that name inside the guest, lets
the guest's device policy use it, and applies the real `eth_data_volume` and `eth_prepare`
steps. Proven on the host: the volume is mounted at the data root by UUID (fstab, nofail), every
data dir is created on it, a second apply changes nothing, and a data root that already holds
data on the root disk is refused (never hidden).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.registry import REGISTRY
from infrakit.apply.executor import ApplyReport, apply_plan
from infrakit.apply.ssh import Target
from infrakit.config import RawConfig, load, read_stack_file
from infrakit.plan import HostPlan, build_plan
from infrakit_lab.host import LabHost, ensure_host_packages
from tests.adapters.ethereum.conftest import write_test_lock
from tests.e2e.conftest import ADMIN_KEY, require_root
from tests.lab_names import test_host

pytestmark = pytest.mark.lab

HOST_NAME = os.environ.get("INFRAKIT_E2E_ETH_VOLUME_HOST") or test_host("ethv")
FEE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BY_ID = "/dev/disk/by-id/scsi-0HC_Volume_4242"
LOCK = Path(tempfile.mkdtemp(prefix="infrakit-volume-lock.")) / "test.lock.toml"


def _throwaway_admin_key() -> str:
    """A public key nobody published: the published lab key may not open a cloud server, and
    only the volume and prepare steps run here (the admin user already has the lab key)."""
    key = Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


THROWAWAY_KEY = _throwaway_admin_key()


def values(host: LabHost, target: dict[str, Any]) -> dict[str, Any]:
    out = dict(read_stack_file("lab").values)
    if target.get("target") == "hcloud":
        out["access"] = {**out["access"], "adminKeys": [THROWAWAY_KEY]}
    out.update(
        {
            "chain": "ethereum",
            "role": "validator",
            "network": "hoodi",
            "host": target,
            "access": {**out["access"], "adminCidrs": [f"{host.host_side_address}/32"]},
            # a TEST lock (sha256s of fake bytes): only the volume and prepare steps run here
            "chainSettings": {
                "validator": {"feeRecipient": FEE},
                "artifacts": {"lockFile": str(LOCK)},
                "versions": {"geth": "1.0.0", "lighthouse": "1.0.0", "mev-boost": "1.0.0"},
            },
        }
    )
    return out


@dataclass
class VolumeLab:
    host: LabHost
    known_hosts: Path
    device: str
    logs: dict[str, list[str]]

    def plan(self, volume: bool = True) -> HostPlan:
        target = (
            {"target": "hcloud", "serverType": "cx22", "location": "fsn1", "volume": {"sizeGb": 10}}
            if volume
            else {"target": "existing", "address": self.host.address}
        )
        return build_plan(load(RawConfig("eth-volume", values(self.host, target)), REGISTRY))

    def apply(self, label: str, plan: HostPlan, target: Target | None = None, **kwargs: Any) -> ApplyReport:
        lines: list[str] = []
        report = apply_plan(
            plan,
            target or Target(self.host.address, "ops", 22, ADMIN_KEY, self.known_hosts),
            {},
            say=lines.append,
            **kwargs,
        )
        self.logs[label] = lines
        return report

    def guest(self, command: str, check: bool = True) -> str:
        pid = self.host.guest_init_pid
        assert pid
        result = subprocess.run(
            ["nsenter", "--target", str(pid), "--mount", "--uts", "--ipc", "--net", "--pid", "--", "sh", "-c", command],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"guest: {command!r}: {result.stderr}")
        return result.stdout


def allow_device(host: LabHost, major: int, minor: int) -> None:
    """Let the container use the loop device: its node under the Hetzner name, and, where the
    container has a device cgroup of its own (cgroup v1), an allow rule for it."""
    pid = host.guest_init_pid
    assert pid
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "devices" in controllers.split(",") and path != "/":
            allow = Path("/sys/fs/cgroup/devices") / path.lstrip("/") / "devices.allow"
            allow.write_text(f"b {major}:{minor} rwm\n")
    subprocess.run(
        [
            "nsenter",
            "--target",
            str(pid),
            "--mount",
            "--",
            "sh",
            "-c",
            f"mkdir -p /dev/disk/by-id && rm -f {BY_ID} && mknod {BY_ID} b {major} {minor}",
        ],
        check=True,
        timeout=30,
    )


@pytest.fixture(scope="module")
def vol(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VolumeLab]:
    require_root()
    ensure_host_packages()
    write_test_lock(LOCK.parent, {"geth": ["1.0.0"], "lighthouse": ["1.0.0"], "mev-boost": ["1.0.0"]})
    work = tmp_path_factory.mktemp("volume")
    image = work / "volume.img"
    subprocess.run(["truncate", "-s", "64M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "ikvol", str(image)], check=True)
    device = subprocess.run(
        ["losetup", "--find", "--show", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    stale = LabHost.get(HOST_NAME)
    if stale:
        stale.down()
    host = LabHost.up(HOST_NAME)
    try:
        major, minor = (
            int(x)
            for x in re.split(
                r"[:]",
                subprocess.run(
                    ["lsblk", "-ndo", "MAJ:MIN", device], capture_output=True, text=True, check=True
                ).stdout.strip(),
            )
        )
        allow_device(host, major, minor)
        lab = VolumeLab(host, work / "known_hosts", device, {})
        root = Target(host.address, "root", 22, host.ssh_key_path, lab.known_hosts)
        boot = lab.apply("bootstrap", lab.plan(volume=False), target=root, only={"base_packages", "create_user"})
        assert boot.ok, "\n".join(lab.logs["bootstrap"][-30:])
        yield lab
    finally:
        host.down()
        subprocess.run(["losetup", "-d", device], check=False)


def test_data_dirs_are_created_on_the_volume(vol: VolumeLab) -> None:
    report = vol.apply("volume", vol.plan(), only={"eth_data_volume", "eth_prepare"})
    assert report.ok, "\n".join(vol.logs["volume"][-40:])
    uuid = vol.guest(f"blkid -o value -s UUID {BY_ID}").strip()
    assert vol.guest("findmnt -n -o UUID --mountpoint /var/lib/ethereum").strip() == uuid
    for role in ("execution", "beacon", "validator"):
        path = f"/var/lib/ethereum/{role}"
        assert vol.guest(f"findmnt -n -o UUID --target {path}").strip() == uuid, f"{path} is not on the volume"
        assert vol.guest(f"stat -c '%a %U' {path}").split() == ["700", f"eth-{role}"]
    fstab = vol.guest("grep 'infrakit: chain data volume' /etc/fstab")
    assert f"UUID={uuid} /var/lib/ethereum ext4 defaults,nofail,noatime 0 2" in fstab


def test_a_second_apply_changes_nothing(vol: VolumeLab) -> None:
    report = vol.apply("again", vol.plan(), only={"eth_data_volume", "eth_prepare"})
    assert report.ok and [s.name for s in report.steps if s.changed] == []


def test_data_on_the_root_disk_is_never_hidden(vol: VolumeLab) -> None:
    vol.guest("umount /var/lib/ethereum && mkdir -p /var/lib/ethereum/execution && touch /var/lib/ethereum/x")
    report = vol.apply("hidden", vol.plan(), only={"eth_data_volume"})
    assert not report.ok and "already holds data on the root disk" in "\n".join(vol.logs["hidden"])
    assert vol.guest("mountpoint -q /var/lib/ethereum || echo not-mounted", check=False).strip() == "not-mounted"
    vol.guest(
        "rm -rf /var/lib/ethereum/x /var/lib/ethereum/execution /var/lib/ethereum/beacon /var/lib/ethereum/validator"
    )
    assert vol.apply("remount", vol.plan(), only={"eth_data_volume"}).ok
    assert vol.guest("findmnt -n -o SOURCE --mountpoint /var/lib/ethereum").strip()
