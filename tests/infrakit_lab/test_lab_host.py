"""End-to-end tests of the lab manager: they boot real systemd-nspawn hosts (root).

Three boots in all plus one aborted boot; about 15 s once the rootfs is cached.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from infrakit_lab import config, network, rootfs
from infrakit_lab.errors import LabError
from infrakit_lab.host import LabHost

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]


def lab_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infrakit_lab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def test_cli_up_ssh_status_down_leaves_nothing(
    fresh_name: str,
    lab_ready: Path,
    nothing_left: Callable[[str], None],
    nspawn_pids: Callable[[str], list[int]],
) -> None:
    """The whole life cycle through the CLI, as an operator runs it.

    A host that leaks a mount, a veth, a process or the NAT table after `down` breaks
    the next run (or the machine), so every leftover kind is checked.
    """
    name = fresh_name
    cache_mtime = lab_ready.stat().st_mtime_ns

    up = lab_cli("up", "--name", name)
    assert up.returncode == 0, up.stderr
    assert "debootstrap" not in up.stderr, "a cached rootfs must not be rebuilt"
    assert lab_ready.stat().st_mtime_ns == cache_mtime, "the cached rootfs was rewritten"
    host = LabHost.get(name)
    assert host is not None and host.is_running

    printed = shlex.split(up.stdout.strip().splitlines()[-1])
    assert printed[0] == "ssh" and printed[-1] == f"root@{host.address}", up.stdout
    login = subprocess.run(
        [*printed[:-1], "-o", "BatchMode=yes", printed[-1], "true"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert login.returncode == 0, f"the printed ssh command failed: {login.stderr}"

    again = lab_cli("up", "--name", name)
    assert again.returncode == 1
    assert (
        again.stderr.strip() == f"infrakit-lab: error: lab host {name} is already up (pid {host.pid}, {host.address})"
    )
    assert len(nspawn_pids(name)) == 1, "a refused up must not start a second nspawn"

    status = lab_cli("status")
    assert status.returncode == 0, status.stderr
    row = next(line.split() for line in status.stdout.splitlines() if line.split()[0] == name)
    assert row == [name, "running", str(host.pid), host.address, "yes"]

    down = lab_cli("down", "--name", name)
    assert down.returncode == 0, down.stderr
    nothing_left(name)

    twice = lab_cli("down", "--name", name)
    assert twice.returncode == 0
    assert f"lab host {name} is not up" in twice.stdout


def test_api_reboot_keeps_the_overlay(
    fresh_name: str, monkeypatch: pytest.MonkeyPatch, nothing_left: Callable[[str], None]
) -> None:
    """Reboot tests need the same overlay booted again with the guest's changes kept."""

    def no_build(*_args: object) -> None:
        raise AssertionError("debootstrap ran although the rootfs is cached")

    monkeypatch.setattr(rootfs, "build", no_build)
    name = fresh_name
    host = LabHost.up(name)
    assert host.ssh_user == "root"
    assert host.ssh_key_path.stat().st_mode & 0o777 == 0o600
    assert host.host_side_address == host.address.rsplit(".", 1)[0] + ".1"
    assert host.ssh("hostname").stdout.strip() == name
    init = host.guest_init_pid
    assert init is not None and Path(f"/proc/{init}/comm").read_text().strip() == "systemd"

    # apt inside the guest: NAT, ip_forward, DNS and sources all have to be right
    host.ssh("apt-get", "-q", "-o", "Acquire::Retries=2", "update", timeout=240)

    host.ssh("sh", "-c", "echo kept > /root/marker")
    host.ssh("systemctl", "reboot", check=False)  # the connection may drop mid-command
    assert host.wait_stopped(60), "systemctl reboot did not end nspawn"
    assert not host.is_running
    assert not network.link_exists(host.veth)

    with pytest.raises(LabError, match="exists but is stopped"):
        LabHost.up(name)
    again = LabHost.up(name, keep=True)
    assert again.ssh("cat", "/root/marker").stdout == "kept\n"

    again.restart()
    assert again.ssh("cat", "/root/marker").stdout == "kept\n"

    again.down()
    nothing_left(name)


def test_boot_timeout_tears_down_what_was_made(fresh_name: str, nothing_left: Callable[[str], None]) -> None:
    """A failed up must not leave a half-made host that blocks the next up."""
    with pytest.raises(LabError, match="did not answer in time"):
        LabHost.up(fresh_name, boot_timeout=0.2)
    assert LabHost.get(fresh_name) is None
    nothing_left(fresh_name)
    console = config.state_dir() / "logs" / f"{fresh_name}.console.log"
    assert "systemd" in console.read_text(errors="replace"), "the failed boot's console log must stay"
    console.unlink()
