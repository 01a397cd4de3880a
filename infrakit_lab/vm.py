"""The VM lane: the lab rootfs booted by qemu (TCG) with its own Debian kernel.

For what a container cannot prove: ``vm.*``/``kernel.*``/``fs.*`` sysctls, and reboots
inside one running machine. KVM is unusable here (see shared/LAB.md), so qemu emulates
the CPU: a boot takes about half a minute, a reboot about a minute.

Python API::

    from infrakit_lab.vm import LabVM

    vm = LabVM.up("vm")                 # boot; returns once sshd answers (LabError if not)
    vm.address, vm.ssh_port             # 127.0.0.1 and a forwarded port
    vm.ssh_user, vm.ssh_key_path        # root and the lab key (as for LabHost)
    vm.ssh("sysctl", "-w", "vm.swappiness=10")
    vm.reboot()                         # `systemctl reboot` in the guest, wait for sshd
    vm.down()                           # kill qemu, delete the VM's disk overlay
    LabVM.get("vm"); LabVM.all(); LabVM.up("vm", keep=True)

Image (built once, cached next to the rootfs tarball): the cached rootfs plus
``linux-image-amd64`` and ``initramfs-tools`` (installed with a non-booting nspawn),
networkd on DHCP for qemu's user network, the lab key for root; packed with
``mkfs.ext4 -d`` into ``<cache>/vm-<key>/disk.img`` beside ``vmlinuz`` and ``initrd.img``.
Each VM boots a qcow2 overlay of that image (``<state>/vms/NAME/disk.qcow2``) with
user-mode networking and ``hostfwd=tcp:127.0.0.1:PORT-:22``: no host links, routes or
nft rules are made, so ``down`` has only a process and a directory to remove.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import tempfile
import time
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path

from infrakit_lab import config, daemon
from infrakit_lab.errors import LabError
from infrakit_lab.host import lab_key
from infrakit_lab.locking import file_lock
from infrakit_lab.machine import LabMachine
from infrakit_lab.mirror import static_host_entries
from infrakit_lab.mounts import remove_tree, unmount_all_under
from infrakit_lab.packages import require_host_packages, require_root
from infrakit_lab.proc import run
from infrakit_lab.rootfs import Recipe, default_recipe, ensure_cached, extract

log = logging.getLogger("infrakit_lab")

DEFAULT_VM_NAME = "vm"
VM_BOOT_TIMEOUT = 240.0  # TCG: ~35 s measured; generous for a loaded CI machine
VM_STOP_TIMEOUT = 10.0
IMAGE_SIZE = 4 * 1024**3  # sparse; room for what tests install
MEMORY_MB = 1024
CPUS = 2
VM_RECIPE_VERSION = 1
KERNEL_PACKAGES = ("linux-image-amd64", "initramfs-tools")

# Runs in a non-booting nspawn of the extracted rootfs, on the host's network.
VM_SETUP_SCRIPT = """\
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get -q -o Acquire::Retries=3 update
apt-get -q -y -o Acquire::Retries=3 install --no-install-recommends {packages}
apt-get clean
rm -rf /var/lib/apt/lists/*
"""

VM_NETWORK_UNIT = """\
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no
"""
QEMU_DNS = "10.0.2.3"  # qemu user networking's resolver (forwards to the host's)


@dataclass(frozen=True)
class VMRecipe:
    rootfs_key: str
    packages: tuple[str, ...]
    setup_script: str
    network_unit: str
    authorized_key: str
    hosts_entries: tuple[str, ...]
    version: int = VM_RECIPE_VERSION

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def image_dir(self) -> Path:
        return config.cache_dir() / f"vm-{self.key()}"


def vm_recipe(rootfs: Recipe, pubkey: Path) -> VMRecipe:
    return VMRecipe(
        rootfs_key=rootfs.key(),
        packages=KERNEL_PACKAGES,
        setup_script=VM_SETUP_SCRIPT.format(packages=" ".join(KERNEL_PACKAGES)),
        network_unit=VM_NETWORK_UNIT,
        authorized_key=pubkey.read_text().strip(),
        hosts_entries=tuple(static_host_entries(rootfs.mirror.hostnames())),
    )


def _configure_tree(root: Path, recipe: VMRecipe) -> None:
    (root / "etc/hostname").write_text("labvm\n")
    hosts = ["127.0.0.1 localhost", "127.0.1.1 labvm", *recipe.hosts_entries]
    (root / "etc/hosts").write_text("\n".join(hosts) + "\n")
    (root / "etc/resolv.conf").write_text(f"nameserver {QEMU_DNS}\n")
    (root / "etc/fstab").write_text("/dev/vda / ext4 rw,errors=remount-ro 0 1\n")
    unit = root / "etc/systemd/network/10-vm.network"
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(recipe.network_unit)
    authorized = root / "root/.ssh/authorized_keys"
    authorized.parent.mkdir(mode=0o700, exist_ok=True)
    authorized.write_text(recipe.authorized_key + "\n")
    authorized.chmod(0o600)


def _newest(boot: Path, pattern: str) -> Path:
    found = sorted(boot.glob(pattern))
    if not found:
        raise LabError(f"kernel install produced no {pattern} in {boot}")
    return found[-1]


def build_image(recipe: VMRecipe, tarball: Path, out: Path) -> None:
    """Rootfs + kernel -> ``out/{disk.img,vmlinuz,initrd.img}`` (atomically)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vm-build-", dir=out.parent))
    root = work / "root"
    try:
        log.info("building the VM image: rootfs + Debian kernel (about a minute)")
        extract(tarball, root)
        (root / "etc/hosts").write_text("\n".join(["127.0.0.1 localhost", *recipe.hosts_entries]) + "\n")
        run(
            [
                "systemd-nspawn",
                "--quiet",
                "--register=no",
                "--keep-unit",
                "--resolv-conf=copy-host",
                "--timezone=off",
                "--link-journal=no",
                "--pipe",
                "-D",
                root,
                "/bin/sh",
                "-c",
                recipe.setup_script,
            ],
            timeout=1200,
        )
        _configure_tree(root, recipe)
        result = work / "result"
        result.mkdir()
        (result / "vmlinuz").write_bytes(_newest(root / "boot", "vmlinuz-*").read_bytes())
        (result / "initrd.img").write_bytes(_newest(root / "boot", "initrd.img-*").read_bytes())
        disk = result / "disk.img"
        with open(disk, "wb") as fh:
            fh.truncate(IMAGE_SIZE)
        run(["mkfs.ext4", "-q", "-F", "-L", "infrakit-vm", "-d", root, disk], timeout=600)
        remove_tree(out)  # an incomplete image dir from an interrupted build
        result.rename(out)
    finally:
        unmount_all_under(work)
        remove_tree(work)


def ensure_image(recipe: VMRecipe, tarball: Path) -> Path:
    out = recipe.image_dir()
    with file_lock(out.parent / ".lock", timeout=1800, what="lab cache"):
        if not (out / "disk.img").is_file():
            started = time.monotonic()
            build_image(recipe, tarball, out)
            log.info("VM image cached at %s (built in %.1f s)", out, time.monotonic() - started)
    return out


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _VMRecord:
    name: str
    image_dir: str
    ssh_port: int
    pid: int | None = None
    start_time: int | None = None


class LabVM(LabMachine):
    """One qemu VM of the lab. Create with ``LabVM.up``; find with ``LabVM.get``."""

    address: str = "127.0.0.1"
    connect_timeout = 20  # TCG is slow to answer
    command_timeout = 300.0
    record_file = "vm.json"
    _rec: _VMRecord

    @property
    def ssh_port(self) -> int:
        return self._rec.ssh_port

    @property
    def dir(self) -> Path:
        return self._state / "vms" / self.name

    @property
    def console_log(self) -> Path:
        return self._state / "logs" / f"vm-{self.name}.console.log"

    # -- life cycle ----------------------------------------------------------------
    @classmethod
    def up(cls, name: str = DEFAULT_VM_NAME, *, keep: bool = False, boot_timeout: float = VM_BOOT_TIMEOUT) -> LabVM:
        """Boot VM ``name`` (building the cached image first if needed).

        A running VM is refused; an existing stopped one too, unless ``keep`` (boot its
        disk overlay again, the guest's changes kept).
        """
        config.validate_name(name)
        require_root()
        require_host_packages(vm=True)
        state = config.state_dir()
        state.mkdir(parents=True, exist_ok=True)
        with _vm_lock(state, name):
            existing = cls._load(name, state)
            if existing is not None:
                if existing.is_running:
                    raise LabError(f"lab VM {name} is already up (pid {existing.pid}, port {existing.ssh_port})")
                if not keep:
                    raise LabError(f"lab VM {name} exists but is stopped: `--keep` boots it again, `down` removes it")
                existing._boot(boot_timeout)
                return existing
            rootfs = default_recipe()
            tarball, _ = ensure_cached(rootfs)
            recipe = vm_recipe(rootfs, lab_key(state).with_suffix(".pub"))
            image = ensure_image(recipe, tarball)
            vm = cls(_VMRecord(name=name, image_dir=str(image), ssh_port=0), state)
            remove_tree(vm.dir)
            vm.dir.mkdir(parents=True)
            vm.console_log.parent.mkdir(exist_ok=True)
            vm.console_log.unlink(missing_ok=True)
            try:
                run(
                    ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", image / "disk.img", vm.disk],
                    timeout=60,
                )
                vm._boot(boot_timeout)
            except BaseException:
                vm._remove()  # the console log stays for a post-mortem
                raise
            return vm

    @classmethod
    def get(cls, name: str = DEFAULT_VM_NAME) -> LabVM | None:
        config.validate_name(name)
        return cls._load(name, config.state_dir())

    @classmethod
    def all(cls) -> list[LabVM]:
        state = config.state_dir()
        vms_dir = state / "vms"
        names = sorted(p.name for p in vms_dir.iterdir() if p.is_dir()) if vms_dir.is_dir() else []
        return [vm for vm in (cls._load(n, state) for n in names) if vm is not None]

    def reboot(self, timeout: float = VM_BOOT_TIMEOUT) -> float:
        """``systemctl reboot`` in the guest; wait until sshd is back. Returns seconds."""
        started = time.monotonic()
        self.ssh("systemctl", "reboot", check=False, timeout=60)
        deadline = started + timeout
        while self.ssh_reachable(timeout=1.0):  # wait for the old sshd to go
            if time.monotonic() >= deadline:
                raise LabError(f"lab VM {self.name}: sshd still answers {timeout:g} s after reboot")
            time.sleep(0.5)
        self._wait_sshd(deadline)
        return time.monotonic() - started

    def down(self) -> None:
        """Kill qemu and delete the VM's disk overlay and record."""
        require_root()
        with _vm_lock(self._state, self.name):
            self._remove()
            self.console_log.unlink(missing_ok=True)

    # -- internals -------------------------------------------------------------------
    @property
    def disk(self) -> Path:
        return self.dir / "disk.qcow2"

    @classmethod
    def _load(cls, name: str, state: Path) -> LabVM | None:
        path = state / "vms" / name / "vm.json"
        try:
            return cls(_VMRecord(**json.loads(path.read_text())), state)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            raise LabError(f"unreadable lab VM record {path}: {exc}") from exc

    def _qemu_argv(self) -> list[str]:
        image = Path(self._rec.image_dir)
        return [
            "qemu-system-x86_64",
            *("-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max"),
            *("-smp", str(CPUS), "-m", str(MEMORY_MB)),
            *("-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img")),
            *("-append", "root=/dev/vda rw console=ttyS0 quiet"),
            *("-drive", f"file={self.disk},if=virtio,format=qcow2"),
            *("-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22"),
            *("-device", "virtio-net-pci,netdev=n0"),
            *("-display", "none", "-monitor", "none", "-serial", "stdio"),
        ]

    def _boot(self, boot_timeout: float) -> None:
        if not Path(self._rec.image_dir, "disk.img").is_file():
            raise LabError(f"the image of lab VM {self.name} is gone from the cache: `down` it and `up` again")
        self._rec.ssh_port = _free_port()
        started = time.monotonic()
        proc = daemon.spawn(self._qemu_argv(), self.console_log)
        self._rec.pid, self._rec.start_time = proc.pid, proc.start_time
        self._save()
        try:
            self._wait_sshd(started + boot_timeout)
        except BaseException:
            self._stop()
            raise
        log.info(
            "VM %s up in %.1f s (pid %d, ssh port %d)", self.name, time.monotonic() - started, proc.pid, self.ssh_port
        )

    def _wait_sshd(self, deadline: float) -> None:
        while not self.ssh_reachable(timeout=2.0):
            if not self.is_running:
                raise LabError(f"lab VM {self.name}: qemu exited (console log: {self.console_log})")
            if time.monotonic() >= deadline:
                raise LabError(
                    f"lab VM {self.name}: sshd on 127.0.0.1:{self.ssh_port} did not answer in time "
                    f"(console log: {self.console_log})"
                )
            time.sleep(0.5)

    def _stop(self) -> None:
        proc = self._proc()
        if proc is not None:
            daemon.terminate(proc, timeout=VM_STOP_TIMEOUT)
        if self._rec.pid is not None and self.dir.is_dir():
            self._rec.pid = self._rec.start_time = None
            self._save()

    def _remove(self) -> None:
        self._stop()
        remove_tree(self.dir)


def _vm_lock(state: Path, name: str) -> AbstractContextManager[None]:
    """Per VM: VMs share nothing but the image cache, which has its own lock."""
    return file_lock(state / "vms" / f".{name}.lock", timeout=1800, what=f"lab VM {name}")


def vm_down_all() -> list[str]:
    """Remove every lab VM; returns the names removed."""
    removed = []
    for vm in LabVM.all():
        vm.down()
        removed.append(vm.name)
    return removed
