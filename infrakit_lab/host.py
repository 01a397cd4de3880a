"""Lab hosts: one Debian 12 guest per name, booted with systemd-nspawn on an overlay.

Python API (used by the project's pytest fixtures)::

    from infrakit_lab.host import LabHost, ensure_host_packages

    ensure_host_packages()               # apt-installs the host tools if any is missing
    h = LabHost.up("lab")                # boot; returns once sshd answers (LabError if not)
    h.address, h.ssh_user, h.ssh_key_path, h.ssh_port, h.host_side_address
    h.ssh("true")                        # CompletedProcess; LabError if it exits non-zero
    h.ssh("sh", "-c", "echo x > /f")     # several args: an argv, each quoted
    h.ssh("systemctl is-active ssh")     # one arg: a shell command line
    h.ssh_argv("uname", "-a")            # the ssh argv itself (subprocess, testinfra...)
    h.is_running, h.ssh_reachable(), h.pid (nspawn), h.guest_init_pid (for nsenter)
    h.wait_stopped(60)                   # e.g. after `systemctl reboot` inside the guest
    h.start()                            # boot the SAME overlay again (upper layer kept)
    h.restart()                          # stop + start, overlay kept
    h.stop()                             # power off, overlay kept
    h.down()                             # remove everything of this host
    LabHost.get("lab")                   # LabHost or None
    LabHost.up("lab", keep=True)         # boot a stopped host's overlay instead of refusing
    LabHost.all()                        # every host (running or stopped)
    down("lab")                          # like h.down(); False if there was no such host
    down_all()                           # remove every host and the lab's network state

Every call is bounded in time and raises ``LabError`` (one-line message) for expected
failures. State lives in ``$INFRAKIT_LAB_STATE`` (default /var/lib/infrakit/lab):
``lab_ed25519`` (the throwaway key), ``bases/KEY/`` (pristine rootfs), ``hosts/NAME/``
(``upper/ work/ merged/ host.json``), ``logs/NAME.console.log``. One flock serialises lab changes.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from infrakit_lab import addresses, config, daemon, network, nspawn
from infrakit_lab.errors import LabError
from infrakit_lab.locking import file_lock
from infrakit_lab.machine import KEY_NAME, LabMachine
from infrakit_lab.mirror import host_nameservers, static_host_entries
from infrakit_lab.mounts import is_mounted, mount_overlay, remove_tree, unmount, unmount_all_under
from infrakit_lab.packages import (
    ensure_host_packages,
    require_host_packages,
    require_root,
)
from infrakit_lab.proc import run
from infrakit_lab.rootfs import base_dir, default_recipe, ensure_base, prune_bases

__all__ = ["LabError", "LabHost", "down", "down_all", "ensure_host_packages", "lab_key"]

log = logging.getLogger("infrakit_lab")

BOOT_TIMEOUT = 60.0  # nspawn start -> sshd answers
STOP_TIMEOUT = 30.0  # SIGTERM -> guest powered off, before SIGKILL
LINK_TIMEOUT = 15.0  # nspawn start -> ve-NAME exists
LOCK_TIMEOUT = 1800.0  # waiting for another lab command (a cold rootfs build included)
_NSPAWN_RUN = Path("/run/systemd/nspawn")


def _state() -> Path:
    state = config.state_dir()
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)
    return state


def _lab_lock(state: Path) -> AbstractContextManager[None]:
    return file_lock(state / "lock", timeout=LOCK_TIMEOUT, what="the lab")


def lab_key(state: Path | None = None) -> Path:
    """The lab's throwaway ed25519 private key (mode 0600), generated once."""
    state = state or _state()
    key = state / KEY_NAME
    with file_lock(state / "key.lock", timeout=60, what="the lab key"):
        if not key.is_file():
            key.with_suffix(".pub").unlink(missing_ok=True)
            argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "infrakit-lab", "-f", str(key)]
            run(argv, timeout=30)
        key.chmod(0o600)
    return key


@dataclass
class _Record:
    """What ``hosts/NAME/host.json`` keeps about a host."""

    name: str
    idx: int
    address: str
    host_side_address: str
    base_key: str
    pid: int | None = None
    start_time: int | None = None


class LabHost(LabMachine):
    """One lab host. Create with ``LabHost.up``; find with ``LabHost.get``."""

    ssh_port: int = 22
    record_file = "host.json"
    _rec: _Record

    # -- what tests use ------------------------------------------------------------
    @property
    def address(self) -> str:
        """The guest's address (10.199.<idx>.2), reachable from the host."""
        return self._rec.address

    @property
    def host_side_address(self) -> str:
        """The host's address on the veth (10.199.<idx>.1), the guest's gateway."""
        return self._rec.host_side_address

    @property
    def guest_init_pid(self) -> int | None:
        """The guest's systemd (its PID 1) as seen from the host, e.g. for ``nsenter -t``."""
        proc = self._proc()
        return nspawn.guest_init_pid(proc) if proc is not None and daemon.is_alive(proc) else None

    @property
    def dir(self) -> Path:
        return self._state / "hosts" / self.name

    @property
    def rootfs(self) -> Path:
        """The merged overlay (the guest's / as seen from the host)."""
        return self.dir / "merged"

    @property
    def console_log(self) -> Path:
        """The guest's console; kept after a failed ``up``, removed by ``down``."""
        return self._state / "logs" / f"{self.name}.console.log"

    @property
    def veth(self) -> str:
        return network.veth_name(self.name)

    def wait_stopped(self, timeout: float = 60.0) -> bool:
        """Wait for nspawn to exit (the guest powered off or rebooted)."""
        proc = self._proc()
        return proc is None or daemon.wait_exit(proc, timeout)

    # -- life cycle ----------------------------------------------------------------
    @classmethod
    def up(
        cls,
        name: str = config.DEFAULT_NAME,
        *,
        keep: bool = False,
        boot_timeout: float = BOOT_TIMEOUT,
    ) -> LabHost:
        """Boot host ``name`` and wait until its sshd answers.

        A running host is refused. An existing stopped host is refused unless ``keep``,
        which boots its overlay again with the upper layer (the guest's changes) kept.
        """
        config.validate_name(name)
        require_root()
        require_host_packages()
        state = _state()
        with _lab_lock(state):
            existing = cls._load(name, state)
            if existing is None:
                return cls._create(name, state, boot_timeout)
            if existing.is_running:
                raise LabError(f"lab host {name} is already up (pid {existing.pid}, {existing.address})")
            if not keep:
                raise LabError(f"lab host {name} exists but is stopped: `up --keep` boots it again, `down` removes it")
            existing._boot(boot_timeout)
            return existing

    @classmethod
    def get(cls, name: str = config.DEFAULT_NAME) -> LabHost | None:
        """The host called ``name`` (running or stopped), or None."""
        config.validate_name(name)
        return cls._load(name, config.state_dir())

    @classmethod
    def all(cls) -> list[LabHost]:
        """Every lab host, running or stopped."""
        return cls._all(config.state_dir())

    def start(self, boot_timeout: float = BOOT_TIMEOUT) -> None:
        """Boot this (stopped) host's overlay again; the upper layer is kept."""
        require_root()
        with _lab_lock(self._state):
            if self.is_running:
                raise LabError(f"lab host {self.name} is already up (pid {self.pid})")
            self._boot(boot_timeout)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Power the guest off; its overlay stays for ``start``."""
        require_root()
        with _lab_lock(self._state):
            self._stop(timeout)

    def restart(self, boot_timeout: float = BOOT_TIMEOUT) -> None:
        self.stop()
        self.start(boot_timeout)

    def down(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the guest and remove its overlay, veth, and (if last) the lab's NAT."""
        require_root()
        with _lab_lock(self._state):
            self._remove(timeout)
            _release_network_if_idle(self._state)

    # -- internals -------------------------------------------------------------------
    @classmethod
    def _load(cls, name: str, state: Path) -> LabHost | None:
        path = state / "hosts" / name / "host.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise LabError(f"unreadable lab host record {path}: {exc}") from exc
        return cls(_Record(**data), state)

    @classmethod
    def _all(cls, state: Path) -> list[LabHost]:
        hosts = (cls._load(n, state) for n in _host_names(state))
        return [h for h in hosts if h is not None]

    @classmethod
    def _create(cls, name: str, state: Path, boot_timeout: float) -> LabHost:
        others = cls._all(state)
        # one machine-wide table (locked) gives each host its own index; the links and this
        # state's records are checked too (hosts started before the table existed)
        busy = {o._rec.idx for o in others} | network.indexes_on_links()
        addrs = network.addresses_for_index(addresses.allocate(name, state, busy=busy))
        key = lab_key(state)
        recipe = default_recipe()
        ensure_base(state, recipe)
        prune_bases(state, keep={recipe.key(), *(h._rec.base_key for h in others)})
        record = _Record(
            name=name,
            idx=addrs.idx,
            address=addrs.guest,
            host_side_address=addrs.host_side,
            base_key=recipe.key(),
        )
        host = cls(record, state)
        unmount_all_under(host.dir)  # a leftover without host.json
        remove_tree(host.dir)
        for sub in ("upper", "work", "merged"):
            (host.dir / sub).mkdir(parents=True)
        host.console_log.parent.mkdir(exist_ok=True)
        host.console_log.unlink(missing_ok=True)
        try:
            host._save()
            host._mount()
            host._write_guest_files(key.with_suffix(".pub"), recipe.mirror.hostnames())
            host._boot(boot_timeout)
        except BaseException:
            host._teardown(STOP_TIMEOUT)  # the console log stays for a post-mortem
            _release_network_if_idle(state)
            raise
        return host

    def _mount(self) -> None:
        if is_mounted(self.rootfs):
            return
        lower = base_dir(self._state, self._rec.base_key)
        if not lower.is_dir():
            raise LabError(f"the base rootfs of lab host {self.name} is gone: `down` it and `up` again")
        mount_overlay(lower, self.dir / "upper", self.dir / "work", self.rootfs)

    def _write_guest_files(self, pubkey: Path, mirror_hosts: list[str]) -> None:
        """Per-host files, written once into the upper layer before the first boot."""
        root = self.rootfs
        addrs = network.addresses_for_index(self._rec.idx)
        (root / "etc/hostname").write_text(f"{self.name}\n")
        hosts = [
            "127.0.0.1 localhost",
            f"127.0.1.1 {self.name}",
            "::1 localhost ip6-localhost ip6-loopback",
            *static_host_entries(mirror_hosts),
        ]
        (root / "etc/hosts").write_text("\n".join(hosts) + "\n")
        servers = host_nameservers()
        if not servers:
            log.warning("no usable nameserver in the host's /etc/resolv.conf: guest DNS off")
        (root / "etc/resolv.conf").write_text("".join(f"nameserver {s}\n" for s in servers))
        unit = root / "etc/systemd/network/10-host0.network"
        unit.parent.mkdir(parents=True, exist_ok=True)
        unit.write_text(network.guest_network_unit(addrs))
        ssh_dir = root / "root/.ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        authorized = ssh_dir / "authorized_keys"
        authorized.write_text(pubkey.read_text())
        authorized.chmod(0o600)

    def _boot(self, boot_timeout: float) -> None:
        """Start nspawn on the overlay, address the veth, wait for sshd. Lock held."""
        network.enable_forwarding(self._state)
        network.ensure_masquerade()
        self._mount()
        network.delete_link(self.veth)  # stale, from a killed nspawn
        started = time.monotonic()
        proc = nspawn.start(self.name, self.rootfs, self.console_log)
        self._rec.pid, self._rec.start_time = proc.pid, proc.start_time
        self._save()
        try:
            network.wait_for_link(self.veth, timeout=LINK_TIMEOUT, alive=lambda: daemon.is_alive(proc))
            network.configure_host_side(self.veth, network.addresses_for_index(self._rec.idx))
            self._wait_sshd(proc, started + boot_timeout)
        except BaseException:
            self._stop(10.0)
            raise
        log.info("%s up in %.2f s (pid %d)", self.name, time.monotonic() - started, proc.pid)

    def _wait_sshd(self, proc: nspawn.Proc, deadline: float) -> None:
        while not self.ssh_reachable(timeout=0.5):
            if not daemon.is_alive(proc):
                raise LabError(f"lab host {self.name} exited during boot (console log: {self.console_log})")
            if time.monotonic() >= deadline:
                raise LabError(
                    f"lab host {self.name}: sshd on {self.address}:22 did not answer in time "
                    f"(console log: {self.console_log})"
                )
            time.sleep(0.1)

    def _stop(self, timeout: float) -> None:
        proc = self._proc()
        if proc is not None:
            nspawn.stop(proc, timeout=timeout)
        network.wait_link_gone(self.veth, timeout=5.0)
        _remove_nspawn_leftovers(self.name)
        if self._rec.pid is not None and self.dir.is_dir():
            self._rec.pid = self._rec.start_time = None
            self._save()

    def _teardown(self, timeout: float) -> None:
        self._stop(timeout)
        unmount(self.rootfs)
        remove_tree(self.dir)
        addresses.release(self.name, self._state)

    def _remove(self, timeout: float) -> None:
        self._teardown(timeout)
        self.console_log.unlink(missing_ok=True)


def _host_names(state: Path) -> list[str]:
    hosts = state / "hosts"
    if not hosts.is_dir():
        return []
    return sorted(p.name for p in hosts.iterdir() if (p / "host.json").is_file())


def _remove_nspawn_leftovers(name: str) -> None:
    """nspawn may fail to clean its /run dirs here (/run is not a tmpfs on this host)."""
    for sub in ("propagate", "unix-export"):
        path = _NSPAWN_RUN / sub / name
        if path.is_dir() and not is_mounted(path):
            remove_tree(path)


def _remove_empty_nspawn_dirs() -> None:
    for path in (*(_NSPAWN_RUN / d for d in ("locks", "propagate", "unix-export")), _NSPAWN_RUN):
        try:
            path.rmdir()
        except OSError:
            continue  # missing, or in use by another nspawn


def _release_network_if_idle(state: Path) -> None:
    """With no host left: drop the nft table and restore ip_forward. Lock held.

    Hosts of another state dir share the table and the sysctl: a lab address still on
    a link keeps both.
    """
    if _host_names(state) or network.lab_addresses_on_links():
        return
    network.delete_masquerade()
    network.restore_forwarding(state)
    _remove_empty_nspawn_dirs()


def down(name: str = config.DEFAULT_NAME) -> bool:
    """Remove host ``name``; False (and nothing done) if it does not exist."""
    require_root()
    host = LabHost.get(name)
    if host is None:
        state = config.state_dir()
        if state.is_dir():
            with _lab_lock(state):
                _release_network_if_idle(state)
        return False
    host.down()
    return True


def down_all() -> list[str]:
    """Remove every lab host and the lab's network state; returns the names removed."""
    require_root()
    state = config.state_dir()
    if not state.is_dir():
        return []
    removed = []
    with _lab_lock(state):
        for host in LabHost._all(state):
            host._remove(STOP_TIMEOUT)
            removed.append(host.name)
        _release_network_if_idle(state)
    return removed
