"""`infrakit lock`: download each pinned artifact, hash it, verify its signature, record it.

    infrakit lock                       every artifact of every manifest, at its desired version
    infrakit lock geth lighthouse@8.0.1 only these (a version after @ locks that version too)
    infrakit lock --check               no download: list what is locked, exit 1 if anything is not

Manifests are `adapters/<chain>/versions.toml`; each lock file sits next to its manifest as
`artifacts.lock.toml` (or give --manifest/--lock). A failed download never removes a locked
entry; a missing entry is recorded as unlocked with the reason.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from infrakit.artifacts.fetch import FetchError, lock_artifact, unlocked_entry
from infrakit.artifacts.lock import LockError, LockFile, read_lock, write_lock
from infrakit.artifacts.manifest import Manifest, ManifestError, read_manifest
from infrakit.plan.sources import PROJECT_ROOT

LOCK_NAME = "artifacts.lock.toml"


def default_manifests() -> list[Path]:
    return sorted((PROJECT_ROOT / "adapters").glob("*/versions.toml"))


def _targets(manifest: Manifest, wanted: list[str]) -> list[tuple[str, str]]:
    if not wanted:
        return [(name, spec.version) for name, spec in sorted(manifest.artifacts.items())]
    out = []
    for item in wanted:
        name, _, version = item.partition("@")
        if name in manifest.artifacts:
            out.append((name, version or manifest.artifacts[name].version))
    return out


def check(manifest: Manifest, lock: LockFile) -> int:
    missing = 0
    for name, spec in sorted(manifest.artifacts.items()):
        entry = lock.find(name, spec.version)
        if entry and entry.locked:
            print(f"locked    {name} {spec.version}  sha256 {entry.sha256[:16]}...  signature {entry.signature}")
        else:
            missing += 1
            why = f" ({entry.note})" if entry and entry.note else ""
            print(f"UNLOCKED  {name} {spec.version}{why}")
    return missing


def lock_all(manifest: Manifest, lock: LockFile, targets: list[tuple[str, str]]) -> tuple[LockFile, int]:
    failed = 0
    with tempfile.TemporaryDirectory(prefix="infrakit-lock.") as tmp:
        for name, version in targets:
            spec = manifest.get(name)
            work = Path(tmp) / f"{name}-{version}"
            work.mkdir()
            try:
                entry = lock_artifact(manifest, spec, version, work)
            except FetchError as exc:
                failed += 1
                print(f"FAILED    {name} {version}: {exc}", file=sys.stderr)
                old = lock.find(name, version)
                if old is None or not old.locked:
                    lock = lock.with_entry(unlocked_entry(spec, version, f"lock failed: {exc}"))
                continue
            lock = lock.with_entry(entry)
            print(f"locked    {name} {version}  sha256 {entry.sha256}  "
                  f"({entry.size} bytes, signature {entry.signature})")
    return lock, failed


def cmd_lock(args: argparse.Namespace) -> int:
    manifests = [Path(args.manifest)] if args.manifest else default_manifests()
    if args.lock and len(manifests) != 1:
        print("infrakit lock: --lock needs exactly one --manifest", file=sys.stderr)
        return 2
    problems = 0
    seen: set[str] = set()
    for path in manifests:
        try:
            manifest = read_manifest(path)
            lock = read_lock(Path(args.lock) if args.lock else path.with_name(LOCK_NAME))
        except (ManifestError, LockError) as exc:
            print(f"infrakit lock: {exc}", file=sys.stderr)
            return 2
        print(f"# {path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path}")
        seen |= {a.partition("@")[0] for a in args.artifacts if a.partition("@")[0] in manifest.artifacts}
        if args.check:
            problems += check(manifest, lock)
            continue
        lock, failed = lock_all(manifest, lock, _targets(manifest, args.artifacts))
        write_lock(lock)
        problems += failed
    unknown = sorted({a.partition("@")[0] for a in args.artifacts} - seen)
    if unknown:
        print(f"infrakit lock: unknown artifact(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    if args.check and problems:
        print(f"{problems} artifact(s) not locked: run `infrakit lock` where the upstream URLs are reachable",
              file=sys.stderr)
    return 1 if problems else 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("lock", help="download, hash and verify pinned artifacts into the lock file",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("artifacts", nargs="*", metavar="NAME[@VERSION]", help="default: every artifact")
    p.add_argument("--manifest", help="a versions.toml (default: adapters/*/versions.toml)")
    p.add_argument("--lock", help="the lock file to update (default: artifacts.lock.toml next to the manifest)")
    p.add_argument("--check", action="store_true", help="download nothing; exit 1 if a desired version is unlocked")
    p.set_defaults(func=cmd_lock)


__all__ = ["add_parser"]
