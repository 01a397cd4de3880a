"""The bundle a host receives: deterministic bytes and the layout the runner expects."""

from __future__ import annotations

import gzip
import io
import shlex
import tarfile

from adapters.registry import REGISTRY
from infrakit.config import load_stack
from infrakit.plan import build_plan
from infrakit.plan.bundle import bundle_entries, install_command, sha256, step_command, tarball


def test_tarball_is_byte_stable() -> None:
    """Same plan, same bytes: otherwise every `pulumi up` would re-upload and re-install."""
    plan = build_plan(load_stack("lab", REGISTRY))
    again = build_plan(load_stack("lab", REGISTRY))
    assert sha256(tarball(bundle_entries(plan))) == sha256(tarball(bundle_entries(again)))


def test_bundle_layout_per_step() -> None:
    plan = build_plan(load_stack("lab", REGISTRY))
    entries = bundle_entries(plan)
    for planned in plan.steps:
        base = f"steps/{planned.step.name}"
        assert entries[f"{base}/hash"][0].decode().strip() == planned.hash
        assert entries[f"{base}/script"][0].decode().strip() == planned.step.script
        assert planned.step.script in entries, "the script itself ships"
        manifest = entries[f"{base}/files.tsv"][0].decode().splitlines()
        assert len(manifest) == len(planned.step.files)
    assert "shared/lib/run_step.sh" in entries and "shared/lib/core.sh" in entries
    assert not any(name.endswith(".j2") for name in entries), "templates are rendered before shipping"


def test_params_are_shell_quoted() -> None:
    plan = build_plan(load_stack("lab", REGISTRY))
    params = bundle_entries(plan)["steps/base_packages/params.env"][0].decode()
    for line in params.splitlines():
        key, _, value = line.partition("=")
        assert shlex.split(value) == [plan.step("base_packages").step.params[key]]


def test_tarball_entries_are_root_owned_with_fixed_mtime() -> None:
    data = tarball(bundle_entries(build_plan(load_stack("lab", REGISTRY))))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            assert (member.uid, member.gid, member.mtime) == (0, 0, 0), member.name


def test_commands_carry_only_names_and_hashes() -> None:
    plan = build_plan(load_stack("lab", REGISTRY))
    planned = plan.step("harden_ssh")
    command = step_command(planned, sudo=True)
    assert command.startswith("sudo -n bash /var/lib/infrakit/bundle/shared/lib/run_step.sh harden_ssh ")
    assert planned.hash in command
    assert "PERMIT_ROOT_LOGIN" not in command and "SSH_PORT" not in command, "params travel in the bundle"
    install = install_command("/tmp/b.tgz", "ab" * 32, sudo=True)
    assert "sha256sum -c" in install and "ab" * 32 in install


def test_tarball_is_what_tarfile_and_gzip_would_write() -> None:
    """tarball() builds members and the gzip stream itself (sources first, their part computed
    once per process); the bytes must be exactly TarFile(PAX) + GzipFile(mtime=0) of the same
    members, so any tar/gzip reads it, and a second plan reuses nothing it should not."""
    for stack in ("lab", "eth-hoodi-validator"):
        entries = bundle_entries(build_plan(load_stack(stack, REGISTRY)))
        order = sorted(entries, key=lambda name: (not name.startswith(("shared/", "adapters/")), name))
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            dirs: set[str] = set()
            for name in order:
                data, mode = entries[name]
                parts = name.split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    if (directory := "/".join(parts[:i])) not in dirs:
                        dirs.add(directory)
                        tar.addfile(_reference_info(directory, 0, 0o755, tarfile.DIRTYPE))
                tar.addfile(_reference_info(name, len(data), mode, tarfile.REGTYPE), io.BytesIO(data))
        expected = io.BytesIO()
        with gzip.GzipFile(fileobj=expected, mode="wb", mtime=0, compresslevel=6) as gz:
            gz.write(raw.getvalue())
        assert tarball(entries) == expected.getvalue(), stack


def _reference_info(name: str, size: int, mode: int, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.type = size, mode, kind
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
    return info
