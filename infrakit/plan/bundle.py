"""The bundle a host receives: scripts, plan.json and per-step params/files, byte-stable.

Layout (see shared/README.md for the contract the scripts rely on):
    shared/..., adapters/...            the shell sources
    plan.json                           the plan, without secrets (there are none in it)
    steps/<step>/{script,hash,params.env,secrets,files.tsv,files/<name>}
The same bytes are written as a directory by `infrakit render` and as a deterministic
tar.gz (fixed mtimes, owners, order) for upload, so the bundle hash only moves when
content does.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import struct
import tarfile
import zlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from infrakit.plan.model import STEP_NAME, HostPlan, PlannedStep
from infrakit.plan.sources import bundle_sources, source_bytes

REMOTE_BUNDLE = "/var/lib/infrakit/bundle"
STATE_DIR = "/var/lib/infrakit/state"  # run_step.sh writes <step>.hash here after a step succeeded
APPLIED_PREFIX = "infrakit: applied "
RUNNER = f"{REMOTE_BUNDLE}/shared/lib/run_step.sh"
OFF_RUNNER = f"{REMOTE_BUNDLE}/shared/lib/run_off.sh"  # a feature turned off (shared/off/<step>.sh)

Entries = dict[str, tuple[bytes, int]]


def plan_json(plan: HostPlan) -> str:
    return json.dumps(plan.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def _step_entries(planned: PlannedStep) -> Entries:
    step = planned.step
    base = f"steps/{step.name}"
    params = "".join(f"{key}={shlex.quote(value)}\n" for key, value in sorted(step.params.items()))
    manifest = "".join(f"{f.name}\t{f.mode}\t{f.owner}\t{f.dest}\n" for f in step.files)
    entries: Entries = {
        f"{base}/script": (f"{step.script}\n".encode(), 0o644),
        f"{base}/hash": (f"{planned.hash}\n".encode(), 0o644),
        f"{base}/params.env": (params.encode(), 0o644),
        f"{base}/secrets": ("".join(f"{name}\n" for name in sorted(step.secrets)).encode(), 0o644),
        f"{base}/files.tsv": (manifest.encode(), 0o644),
    }
    for rendered in step.files:
        entries[f"{base}/files/{rendered.name}"] = (rendered.content.encode(), 0o600)
    return entries


def bundle_entries(plan: HostPlan) -> Entries:
    entries: Entries = {}
    for relative in bundle_sources():
        entries[relative] = (source_bytes(relative), 0o755 if relative.endswith(".sh") else 0o644)
    entries["plan.json"] = (plan_json(plan).encode(), 0o644)
    for planned in plan.steps:
        entries.update(_step_entries(planned))
    return dict(sorted(entries.items()))


def write_tree(entries: Entries, out: Path) -> None:
    for relative, (data, mode) in entries.items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(mode)


def tarball(entries: Entries) -> bytes:
    """A deterministic .tar.gz of the entries: same content, same bytes.

    The shipped sources (shared/, adapters/) come first, then plan.json and steps/: every
    plan of one checkout starts with the same bytes, so the tar members of the sources and
    the gzip state after them are computed once per process and reused (a fleet of 100
    hosts built 100 identical prefixes before). The layout inside is the same as ever.
    """
    sources = [(name, entry) for name, entry in entries.items() if name.startswith(SOURCE_PREFIXES)]
    rest = [(name, entry) for name, entry in entries.items() if not name.startswith(SOURCE_PREFIXES)]
    dirs: set[str] = set()
    prefix = b"".join(_with_dirs(name, data, mode, dirs, _member) for name, (data, mode) in sources)
    body = b"".join(_with_dirs(name, data, mode, dirs, _member_bytes) for name, (data, mode) in rest)
    size = len(prefix) + len(body) + 2 * tarfile.BLOCKSIZE
    body += bytes(2 * tarfile.BLOCKSIZE + (-size % tarfile.RECORDSIZE))  # end of archive, as TarFile.close
    compressed, compressor, crc = _compressed_prefix(prefix)
    compressor = compressor.copy()
    out = compressed + compressor.compress(body) + compressor.flush()
    crc = zlib.crc32(body, crc)
    return _GZIP_HEADER + out + struct.pack("<II", crc, (len(prefix) + len(body)) & 0xFFFFFFFF)


SOURCE_PREFIXES = ("shared/", "adapters/")
GZIP_LEVEL = 6
# gzip member header as GzipFile(mtime=0) writes it for level 6 with no file name: magic,
# deflate, no flags, mtime 0, no extra flags, OS unknown.
_GZIP_HEADER = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x00\xff"


def _with_dirs(name: str, data: bytes, mode: int, dirs: set[str], member: Callable[..., bytes]) -> bytes:
    """The tar members for `name` and any parent directory not written yet."""
    out = []
    parts = name.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        directory = "/".join(parts[:i])
        if directory not in dirs:
            dirs.add(directory)
            out.append(_member(directory, b"", 0o755, tarfile.DIRTYPE))
    out.append(member(name, data, mode, tarfile.REGTYPE))
    return b"".join(out)


def _member_bytes(name: str, data: bytes, mode: int, kind: bytes) -> bytes:
    """One tar member (PAX header, data, padding to the block size), as TarFile.addfile writes it."""
    header = _info(name, len(data), mode, kind).tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")
    return header + data + bytes(-len(data) % tarfile.BLOCKSIZE)


# The sources' members (and the directories) are the same for every plan of a process.
_member = lru_cache(maxsize=512)(_member_bytes)

@lru_cache(maxsize=8)
def _compressed_prefix(prefix: bytes) -> tuple[bytes, Any, int]:
    """Deflate output so far, the compressor after `prefix`, and its CRC32 (copy before use)."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0)
    return compressor.compress(prefix), compressor, zlib.crc32(prefix)


def _info(name: str, size: int, mode: int, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.type = size, mode, kind
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
    return info


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def list_applied_script() -> str:
    """sh: print `infrakit: applied <step> <hash>` per recorded step hash, with builtins only."""
    return (f'for f in {STATE_DIR}/*.hash; do [ -f "$f" ] || continue; n="${{f##*/}}"; h=""; '
            f'read -r h < "$f" || true; echo "{APPLIED_PREFIX}${{n%.hash}} $h"; done; true')


def install_command(remote_tar: str, digest: str, sudo: bool, *, list_applied: bool = False) -> str:
    """Verify the uploaded tarball against its digest and swap it in atomically (as root).
    With list_applied, also print `infrakit: applied <step> <hash>` for every step hash the
    host recorded (saves `apply --changed-only` a session; builtins only, no process per file)."""
    script = (
        "set -eu; umask 077; install -d -m 0700 /var/lib/infrakit; "
        "t=$(mktemp -d /var/lib/infrakit/.bundle.XXXXXX); "
        f"cp {shlex.quote(remote_tar)} \"$t/b.tgz\"; rm -f {shlex.quote(remote_tar)}; "
        f"if ! echo '{digest}  '\"$t/b.tgz\" | sha256sum -c --quiet - ; then "
        "echo 'infrakit: bundle checksum mismatch, nothing installed' >&2; rm -rf \"$t\"; exit 1; fi; "
        "mkdir \"$t/new\"; tar -xzf \"$t/b.tgz\" -C \"$t/new\" --no-same-owner; "
        f"if [ -d {REMOTE_BUNDLE} ]; then mv {REMOTE_BUNDLE} \"$t/old\"; fi; "
        f"mv \"$t/new\" {REMOTE_BUNDLE}; rm -rf \"$t\"; "
        f"echo 'infrakit: bundle {digest[:12]} installed'"
    )
    if list_applied:
        script += f"; {list_applied_script()}"
    return f"sudo -n sh -c {shlex.quote(script)}" if sudo else f"sh -c {shlex.quote(script)}"


def step_command(planned: PlannedStep, sudo: bool) -> str:
    """The exact command a step runs: names and hashes only, never a parameter or secret."""
    runner = f'bash {RUNNER} {planned.step.name} {planned.hash} "${{SSH_CONNECTION%% *}}"'
    return f"sudo -n {runner}" if sudo else runner


def off_command(step: str, sudo: bool) -> str:
    """The command that turns off a step the plan no longer has (its name only)."""
    if not re.fullmatch(STEP_NAME, step):
        raise ValueError(f"bad step name {step!r}")
    runner = f"bash {OFF_RUNNER} {step}"
    return f"sudo -n {runner}" if sudo else runner
