"""Fixtures for the lab manager's own tests.

The boot tests need root and really boot systemd-nspawn hosts (CI runs as root). They
install the host packages if missing and build the rootfs cache once (cold: about a
minute), then every boot takes about a second.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infrakit_lab import config, network
from infrakit_lab.host import LabHost, ensure_host_packages
from infrakit_lab.rootfs import default_recipe, ensure_cached
from tests.lab_names import test_host


def _require_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the lab tests need root in CI")
        pytest.skip("the lab tests need root")


@pytest.fixture(scope="session")
def lab_ready() -> Path:
    """Root, host packages present, rootfs cached; returns the cached tarball."""
    _require_root()
    ensure_host_packages()
    tarball, _ = ensure_cached(default_recipe())
    return tarball


def _nspawn_pids(name: str) -> list[int]:
    """PIDs of systemd-nspawn processes running machine ``name``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and argv[0].endswith(b"systemd-nspawn") and f"--machine={name}".encode() in argv:
            pids.append(int(proc.name))
    return pids


def _host_mounts(name: str) -> list[str]:
    pattern = re.compile(rf"/hosts/{re.escape(name)}(/|$)")
    with open("/proc/mounts", encoding="utf-8") as fh:
        return [line for line in fh if pattern.search(line.split()[1])]


def _assert_nothing_left(name: str) -> None:
    """No mount, veth, process or state dir of ``name``; no NAT if no lab host is left."""
    assert _host_mounts(name) == [], f"{name}: overlay still mounted"
    assert not network.link_exists(network.veth_name(name)), f"{name}: veth still there"
    assert _nspawn_pids(name) == [], f"{name}: systemd-nspawn still running"
    assert not (config.state_dir() / "hosts" / name).exists(), f"{name}: host dir left"
    if not LabHost.all() and not network.lab_addresses_on_links():
        assert not network.nft_table_exists(), "nft table infrakit_lab left with no host"
        assert not (config.state_dir() / "ip_forward.orig").exists(), "ip_forward not restored"


def unique_name(taken: set[str]) -> str:
    """A host name of this test run (tests/lab_names.py: one per-run prefix) not in ``taken``.

    Developers share a machine: concurrent test runs must not take each other's hosts.
    """
    for suffix in "abcdefghij":
        name = test_host(f"l{suffix}")
        if name not in taken:
            return name
    raise AssertionError("no free lab host name for a test host")


@pytest.fixture
def fresh_name(lab_ready: Path) -> Iterator[str]:
    """A host name not in use; whatever a test leaves of it is removed afterwards."""
    name = unique_name({h.name for h in LabHost.all()})
    yield name
    leftover = LabHost.get(name)
    if leftover is not None:
        leftover.down()


@pytest.fixture
def nothing_left() -> Callable[[str], None]:
    """``nothing_left(name)`` asserts the host left no mount, veth, process, dir or NAT."""
    return _assert_nothing_left


@pytest.fixture
def nspawn_pids() -> Callable[[str], list[int]]:
    """``nspawn_pids(name)``: live systemd-nspawn processes of machine ``name``."""
    return _nspawn_pids
