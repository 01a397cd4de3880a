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

import gzip
import hashlib
import io
import json
import shlex
import tarfile
from pathlib import Path

from infrakit.plan.model import HostPlan, PlannedStep
from infrakit.plan.sources import PROJECT_ROOT, bundle_sources

REMOTE_BUNDLE = "/var/lib/infrakit/bundle"
STATE_DIR = "/var/lib/infrakit/state"  # run_step.sh writes <step>.hash here after a step succeeded
APPLIED_PREFIX = "infrakit: applied "
RUNNER = f"{REMOTE_BUNDLE}/shared/lib/run_step.sh"

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
        path = PROJECT_ROOT / relative
        entries[relative] = (path.read_bytes(), 0o755 if relative.endswith(".sh") else 0o644)
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
    """A deterministic .tar.gz of the entries: same content, same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for relative, (data, mode) in entries.items():
            parts = relative.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                directory = "/".join(parts[:i])
                if directory not in dirs:
                    dirs.add(directory)
                    tar.addfile(_info(directory, 0, 0o755, tarfile.DIRTYPE))
            tar.addfile(_info(relative, len(data), mode, tarfile.REGTYPE), io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


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
