"""Build, cache and extract the lab's Debian 12 (bookworm) rootfs.

The recipe (suite, packages, mirror, setup files and script) is hashed into a cache key;
the finished rootfs is cached as ``<cache>/bookworm-<key>.tar.zst`` so a recipe change
rebuilds and anything else reuses it. ``ensure_base`` extracts the tarball once into
``<state>/bases/<key>`` (the pristine lower layer of every host's overlay).

Per-host details (hostname, address, resolv.conf, the SSH key) are not in the rootfs:
``host.py`` writes them into each host's overlay before its first boot.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from infrakit_lab import config
from infrakit_lab.errors import LabError
from infrakit_lab.locking import file_lock
from infrakit_lab.mirror import Mirror, host_mirror
from infrakit_lab.mounts import remove_tree, unmount_all_under
from infrakit_lab.proc import run, tool_env

log = logging.getLogger("infrakit_lab")

RECIPE_VERSION = 1
SUITE = "bookworm"
PACKAGES = (
    "openssh-server",
    "systemd-sysv",
    "iproute2",
    "sudo",
    "python3",
    "dbus",
    "ca-certificates",
)

_SOURCES = """\
Types: deb
URIs: {debian}
Suites: {suite} {suite}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: {security}
Suites: {suite}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

# Runs in a chroot of the fresh debootstrap tree (no /proc needed).
SETUP_SCRIPT = """\
set -eu
rm -f /etc/apt/sources.list
systemctl enable systemd-networkd.service
# apt-daily timers stay as on a real server: steps must cope with apt runs (they wait for the lock)
# a fresh machine id per host (systemd sets one up at boot when the file is empty)
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
# written per host before its first boot
rm -f /etc/resolv.conf /etc/hostname
install -d -m 0700 /root/.ssh
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log
"""

# Build/extract limits (seconds).
DEBOOTSTRAP_TIMEOUT = 1200.0
TAR_TIMEOUT = 600.0
CACHE_LOCK_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the content of the rootfs; its hash is the cache key."""

    suite: str
    variant: str
    packages: tuple[str, ...]
    mirror: Mirror
    sources: str
    setup_script: str
    version: int = RECIPE_VERSION

    def key(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def tarball(self, cache: Path | None = None) -> Path:
        return (cache or config.cache_dir()) / f"{self.suite}-{self.key()}.tar.zst"


def default_recipe() -> Recipe:
    mirror = host_mirror(SUITE)
    return Recipe(
        suite=SUITE,
        variant="minbase",
        packages=PACKAGES,
        mirror=mirror,
        sources=_SOURCES.format(debian=mirror.debian, security=mirror.security, suite=SUITE),
        setup_script=SETUP_SCRIPT,
    )


def _build_tree(recipe: Recipe, root: Path) -> None:
    started = time.monotonic()
    run(
        [
            "debootstrap",
            f"--variant={recipe.variant}",
            f"--include={','.join(recipe.packages)}",
            "--components=main",
            recipe.suite,
            str(root),
            recipe.mirror.debian,
        ],
        timeout=DEBOOTSTRAP_TIMEOUT,
        env={"DEBIAN_FRONTEND": "noninteractive"},
    )
    log.info("debootstrap done in %.1f s", time.monotonic() - started)
    sources = root / "etc/apt/sources.list.d/debian.sources"
    sources.parent.mkdir(parents=True, exist_ok=True)
    sources.write_text(recipe.sources, encoding="utf-8")
    run(
        ["chroot", str(root), "/bin/sh", "-c", recipe.setup_script],
        timeout=120,
        env={"DEBIAN_FRONTEND": "noninteractive", "SYSTEMD_OFFLINE": "1"},
    )


def _pipe(producer: list[str], consumer: list[str], *, timeout: float) -> None:
    """Run ``producer | consumer`` without a shell; LabError if either fails."""
    env = tool_env()
    with subprocess.Popen(producer, stdout=subprocess.PIPE, env=env) as first:
        try:
            second = subprocess.run(
                consumer,
                stdin=first.stdout,
                capture_output=True,
                timeout=timeout,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            first.kill()
            raise LabError(f"{consumer[0]} timed out after {timeout:g} s") from exc
        finally:
            if first.stdout:
                first.stdout.close()
        first_rc = first.wait(timeout=30)
    if first_rc != 0 or second.returncode != 0:
        detail = second.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise LabError(
            f"{producer[0]} | {consumer[0]} failed (exit {first_rc}/{second.returncode})"
            + (f": {detail[0]}" if detail else "")
        )


_TAR_OPTS = ["--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls"]


def build(recipe: Recipe, tarball: Path) -> None:
    """debootstrap + setup into a temp tree, then pack it to ``tarball`` atomically."""
    tarball.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=tarball.parent))
    root = work / "root"
    partial = work / "rootfs.tar.zst"
    try:
        log.info("building the lab rootfs with debootstrap (first time: about 60-90 s)")
        _build_tree(recipe, root)
        _pipe(
            ["tar", *_TAR_OPTS, "-C", str(root), "-cf", "-", "."],
            ["zstd", "-q", "-T0", "-3", "-o", str(partial)],
            timeout=TAR_TIMEOUT,
        )
        partial.replace(tarball)
    finally:
        unmount_all_under(work)  # debootstrap can leave /proc, /sys mounted on failure
        remove_tree(work)


def ensure_cached(recipe: Recipe) -> tuple[Path, bool]:
    """The recipe's cached tarball, building it first if needed; (path, built)."""
    tarball = recipe.tarball()
    with file_lock(tarball.parent / ".lock", timeout=CACHE_LOCK_TIMEOUT, what="lab cache"):
        if tarball.is_file():
            return tarball, False
        started = time.monotonic()
        build(recipe, tarball)
        log.info("rootfs cached at %s (built in %.1f s)", tarball, time.monotonic() - started)
        return tarball, True


def extract(tarball: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    _pipe(
        ["zstd", "-q", "-dc", str(tarball)],
        ["tar", *_TAR_OPTS, "-C", str(dest), "-xf", "-"],
        timeout=TAR_TIMEOUT,
    )


def base_dir(state: Path, key: str) -> Path:
    """The pristine extracted rootfs of cache key ``key``: a lower layer, never booted."""
    return state / "bases" / key


def ensure_base(state: Path, recipe: Recipe) -> Path:
    """``<state>/bases/<key>`` extracted from the recipe's tarball once, then reused.

    One directory per key, so hosts made before a recipe change keep their lower layer
    while new hosts get the new one. The caller holds the lab lock.
    """
    base = base_dir(state, recipe.key())
    if base.is_dir():
        return base
    tarball, _ = ensure_cached(recipe)
    tmp = base.with_name(base.name + ".partial")
    remove_tree(tmp)
    started = time.monotonic()
    extract(tarball, tmp)
    tmp.rename(base)
    log.info("extracted the base rootfs in %.1f s", time.monotonic() - started)
    return base


def prune_bases(state: Path, keep: set[str]) -> None:
    """Remove extracted bases whose key is not in ``keep``. The caller holds the lab lock."""
    bases = state / "bases"
    if bases.is_dir():
        for path in bases.iterdir():
            if path.name not in keep:
                remove_tree(path)
