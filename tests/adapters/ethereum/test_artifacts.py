"""Manifest, lock file and `infrakit lock`: only computed checksums, refusal of unlocked entries."""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from infrakit.artifacts.cli import cmd_lock
from infrakit.artifacts.lock import LockError, read_lock, render_lock
from infrakit.artifacts.manifest import ManifestError, read_manifest
from infrakit.plan.sources import PROJECT_ROOT
from tests.adapters.ethereum.conftest import write_test_lock

REAL_MANIFEST = PROJECT_ROOT / "adapters" / "ethereum" / "versions.toml"
REAL_LOCK = PROJECT_ROOT / "adapters" / "ethereum" / "artifacts.lock.toml"


def test_the_real_manifest_parses_and_every_entry_is_in_the_lock_file() -> None:
    manifest = read_manifest(REAL_MANIFEST)
    lock = read_lock(REAL_LOCK)
    assert {"geth", "nethermind", "reth", "besu", "lighthouse", "teku", "prysm-beacon", "prysm-validator",
            "lodestar", "nimbus", "mev-boost", "jre"} == set(manifest.artifacts)
    for name, spec in manifest.artifacts.items():
        entry = lock.find(name, spec.version)
        assert entry is not None, f"{name} {spec.version} has no lock entry (locked or unlocked)"
        try:
            assert entry.url == spec.url(), name
        except ManifestError as exc:  # a per-version URL part not recorded yet: unlocked, and says so
            assert entry.url == "" and not entry.locked and str(exc) in entry.note, name


def test_the_real_lock_file_holds_no_checksum_that_was_not_computed() -> None:
    """Nothing could be downloaded where this repository was built: every entry is honestly unlocked."""
    for entry in read_lock(REAL_LOCK).entries.values():
        assert entry.status == "unlocked" and entry.sha256 == "", f"{entry.name}: a checksum nobody computed"
        assert entry.note, "an unlocked entry says why"


def test_lock_round_trip(tmp_path: Path) -> None:
    path = write_test_lock(tmp_path, {"geth": ["1.0.0"]})
    lock = read_lock(path)
    assert lock.find("geth", "1.0.0").locked  # type: ignore[union-attr]
    assert render_lock(lock) == path.read_text()


def test_a_locked_entry_without_a_valid_sha256_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('version = 1\n[[artifact]]\nname = "geth"\nversion = "1"\nstatus = "locked"\nurl = "x"\n'
                    'sha256 = "deadbeef"\n')
    with pytest.raises(LockError, match="locked without a valid sha256"):
        read_lock(path)


def test_manifest_refuses_plain_http_upstreams(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[artifacts.x]\nversion = "1"\nurl = "http://evil.example/x.tgz"\nbinaries = ["x"]\n')
    with pytest.raises(ManifestError, match="https"):
        read_manifest(path)


@pytest.fixture
def server(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_infrakit_lock_hashes_what_it_downloaded_and_keeps_failures_unlocked(tmp_path: Path, server) -> None:
    root, url = server
    (root / "tool-1.0.tar.gz").write_bytes(b"release bytes")
    manifest = tmp_path / "versions.toml"
    manifest.write_text(f'[artifacts.tool]\nversion = "1.0"\nurl = "{url}/tool-{{version}}.tar.gz"\n'
                        'binaries = ["tool"]\n'
                        f'[artifacts.gone]\nversion = "2.0"\nurl = "{url}/gone-{{version}}.tar.gz"\n'
                        'binaries = ["gone"]\n')
    lock = tmp_path / "lock.toml"
    args = argparse.Namespace(artifacts=[], manifest=str(manifest), lock=str(lock), check=False)
    assert cmd_lock(args) == 1, "a failed download must fail the command"
    entries = read_lock(lock)
    tool, gone = entries.find("tool", "1.0"), entries.find("gone", "2.0")
    assert tool and tool.locked and tool.sha256 == hashlib.sha256(b"release bytes").hexdigest()
    assert gone and not gone.locked and "404" in gone.note
    check = argparse.Namespace(artifacts=[], manifest=str(manifest), lock=str(lock), check=True)
    assert cmd_lock(check) == 1
    (root / "gone-2.0.tar.gz").write_bytes(b"now there")
    assert cmd_lock(argparse.Namespace(artifacts=["gone"], manifest=str(manifest), lock=str(lock), check=False)) == 0
    assert cmd_lock(check) == 0


def _gpg(home: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(["gpg", "--batch", "--no-tty", "--homedir", str(home), *args], input=stdin,
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg not installed")
def test_infrakit_lock_checks_the_publishers_signature(tmp_path: Path, server) -> None:
    """A release signed by the pinned key locks with its fingerprint; a wrong signer is refused."""
    root, url = server
    publisher, other = tmp_path / "pub", tmp_path / "other"
    for home, uid in ((publisher, "Release Signer <release@example.invalid>"), (other, "Mallory <m@example.invalid>")):
        home.mkdir(mode=0o700)
        _gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
    (root / "tool-1.0.tar.gz").write_bytes(b"signed release")
    _gpg(publisher, "--detach-sign", "--armor", "-o", str(root / "tool-1.0.tar.gz.asc"), str(root / "tool-1.0.tar.gz"))
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "publisher.asc").write_text(_gpg(publisher, "--export", "--armor"))
    (keys / "other.asc").write_text(_gpg(other, "--export", "--armor"))
    manifest = tmp_path / "versions.toml"
    lock = tmp_path / "lock.toml"

    def run(key: str) -> int:
        manifest.write_text(f'[artifacts.tool]\nversion = "1.0"\nurl = "{url}/tool-{{version}}.tar.gz"\n'
                            f'signature_url = "{{url}}.asc"\nsigning_key = "keys/{key}"\nbinaries = ["tool"]\n')
        return cmd_lock(argparse.Namespace(artifacts=[], manifest=str(manifest), lock=str(lock), check=False))

    assert run("other.asc") == 1, "a signature by another key must not lock"
    assert not read_lock(lock).find("tool", "1.0").locked  # type: ignore[union-attr]
    assert run("publisher.asc") == 0
    entry = read_lock(lock).find("tool", "1.0")
    fingerprint = _gpg(publisher, "--with-colons", "--fingerprint").split("fpr:::::::::")[1].split(":")[0]
    assert entry and entry.locked and entry.signature == f"gpg:{fingerprint}"
