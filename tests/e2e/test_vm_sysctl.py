"""The VM lane (own kernel): the whole sysctl set applies and survives a reboot; chrony runs.

In a container the kernel keys (vm.*, kernel.*, fs.*) are read-only; only a host with its
own kernel proves that the sysctl step applies every key and that nothing at boot (ufw
re-applies its own sysctl file) undoes them. Slow under TCG: a few minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.registry import REGISTRY
from infrakit.apply.executor import apply_plan
from infrakit.apply.ssh import Target
from infrakit.config import RawConfig, load, read_stack_file
from infrakit.plan import build_plan
from infrakit.plan.base import SYSCTL_DEFAULTS
from infrakit_lab.host import ensure_host_packages
from infrakit_lab.vm import LabVM
from tests.e2e.conftest import require_root
from tests.lab_names import test_host

pytestmark = pytest.mark.vm

QEMU_GATEWAY = "10.0.2.2"  # where SSH comes from inside qemu's user-mode network


@pytest.fixture(scope="module")
def vm() -> Iterator[LabVM]:
    require_root()
    ensure_host_packages(vm=True)
    stale = LabVM.get("e2evm")
    if stale:
        stale.down()
    machine = LabVM.up(test_host("vm"))
    try:
        yield machine
    finally:
        machine.down()


def sysctl_values(vm: LabVM) -> dict[str, list[str]]:
    out = vm.ssh("sysctl", *SYSCTL_DEFAULTS).stdout
    return {k.strip(): v.split() for k, _, v in (line.partition("=") for line in out.splitlines())}


def test_every_sysctl_applies_and_persists_across_reboot(vm: LabVM, tmp_path: Path) -> None:
    values = dict(read_stack_file("lab").values)
    values["host"] = {"target": "existing", "address": vm.address, "user": "root"}
    values["access"] = {**values["access"], "adminCidrs": [f"{QEMU_GATEWAY}/32"]}
    values["hardening"] = {"ssh": {"permitRootLogin": True}}
    plan = build_plan(load(RawConfig("lab-vm", values), REGISTRY))
    target = Target(vm.address, "root", vm.ssh_port, vm.ssh_key_path, tmp_path / "known_hosts")
    lines: list[str] = []
    report = apply_plan(plan, target, {}, only={"base_packages", "sysctl", "firewall_ufw", "time_sync"},
                        say=lines.append)
    assert report.ok, "\n".join(lines[-30:])
    assert not [line for line in lines if "sysctl refused=" in line], "a real kernel must take every key"
    expected = {key: str(value).split() for key, value in SYSCTL_DEFAULTS.items()}
    assert sysctl_values(vm) == expected
    vm.reboot()
    assert sysctl_values(vm) == expected, "a key did not survive the reboot"
    # chrony cannot run in a container (no CAP_SYS_TIME); with its own kernel it must.
    assert vm.ssh("systemctl", "is-active", "chrony").stdout.strip() == "active"
    assert "Leap status" in vm.ssh("chronyc", "tracking").stdout
