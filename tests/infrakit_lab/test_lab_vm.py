"""The VM lane (qemu TCG, own kernel): one boot and one reboot, about 1-2 minutes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infrakit_lab.host import ensure_host_packages
from infrakit_lab.vm import LabVM

pytestmark = pytest.mark.vm


def test_vm_sets_kernel_sysctls_and_keeps_them_across_a_reboot(lab_ready: Path) -> None:
    """vm.* keys are read-only in a container; only this lane proves they apply and persist."""
    ensure_host_packages(vm=True)
    name = f"v{os.getpid() % 100000}"
    host_swappiness = Path("/proc/sys/vm/swappiness").read_text()

    vm = LabVM.up(name)
    try:
        assert vm.address == "127.0.0.1" and vm.ssh_user == "root"
        assert vm.ssh("uname", "-r").stdout.strip().endswith("-amd64"), "not the Debian kernel"
        vm.ssh("sysctl", "-w", "vm.swappiness=13")
        vm.ssh("sh", "-c", "echo 'vm.swappiness = 13' > /etc/sysctl.d/90-lab-test.conf")
        vm.reboot()
        assert vm.ssh("sysctl", "-n", "vm.swappiness").stdout.strip() == "13"
        assert Path("/proc/sys/vm/swappiness").read_text() == host_swappiness, "the VM changed the host"
        pid = vm.pid
    finally:
        vm.down()
    assert LabVM.get(name) is None
    assert not vm.dir.exists()
    cmdline = Path(f"/proc/{pid}/cmdline")
    assert not cmdline.exists() or b"qemu" not in cmdline.read_bytes(), "qemu still running after down"
