"""Download an artifact, hash it, check the publisher's signature: the only way a lock
entry gets a sha256."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from infrakit.artifacts.lock import LockEntry
from infrakit.artifacts.manifest import ArtifactSpec, Manifest, ManifestError

CHUNK = 1 << 20
MAX_BYTES = 4 << 30  # 4 GiB: no client release is larger; a runaway download stops here
TIMEOUT = 60.0


class FetchError(RuntimeError):
    pass


def download(url: str, dest: Path, timeout: float = TIMEOUT) -> tuple[str, int]:
    """Stream `url` to `dest`; return (sha256 hex, size)."""
    if not url.startswith(("https://", "http://")):
        raise FetchError(f"{url}: only http(s) URLs are fetched")
    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, dest.open("wb") as out:  # noqa: S310
            while chunk := response.read(CHUNK):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise FetchError(f"{url}: larger than {MAX_BYTES} bytes, refused")
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:
        raise FetchError(f"{url}: download failed ({exc})") from None
    if size == 0:
        raise FetchError(f"{url}: empty download")
    return digest.hexdigest(), size


def verify_checksum_file(data: Path, checksums: Path, kind: str) -> str:
    """Check `data` against the publisher's checksum file: either one bare digest, or
    `<digest>  <file name>` lines (sha256sum/sha512sum format) naming this file. Returns the digest."""
    digest = hashlib.new(kind)
    with data.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    want = digest.hexdigest()
    length = len(want)
    found: list[str] = []
    for line in checksums.read_text(encoding="utf-8", errors="replace").splitlines():
        words = line.split()
        if not words or len(words[0]) != length or not all(c in "0123456789abcdefABCDEF" for c in words[0]):
            continue
        name = words[1].lstrip("*") if len(words) > 1 else ""
        if not name or name.rsplit("/", 1)[-1] == data.name:
            found.append(words[0].lower())
    if not found:
        raise FetchError(f"{data.name}: the published {kind} checksum file does not list this file")
    if want not in found:
        raise FetchError(f"{data.name}: {kind} {want} does not match the published checksum {found[0]}")
    return want


def verify_signature(data: Path, signature: Path, key: Path, fingerprint: str = "") -> str:
    """Check a detached OpenPGP signature against exactly one pinned key; return its fingerprint.
    With `fingerprint` (from the manifest), the key file itself must be that key."""
    if not key.is_file():
        raise FetchError(f"signing key {key} is not in the repository; add the publisher's key first")
    if shutil.which("gpg") is None:
        raise FetchError("gpg is not installed (apt-get install gnupg)")
    with tempfile.TemporaryDirectory(prefix="infrakit-gpg.") as home:
        base = ["gpg", "--batch", "--no-tty", "--homedir", home]
        imported = subprocess.run([*base, "--import", str(key)], capture_output=True, text=True, timeout=60,
                                  check=False)
        if imported.returncode != 0:
            raise FetchError(f"{key}: not an OpenPGP public key ({imported.stderr.strip()})")
        listed = subprocess.run([*base, "--with-colons", "--fingerprint"], capture_output=True, text=True,
                                timeout=60, check=True)
        fingerprints = [line.split(":")[9] for line in listed.stdout.splitlines() if line.startswith("fpr:")]
        if fingerprint and fingerprint not in fingerprints:
            raise FetchError(f"{key}: this key is not {fingerprint}, the publisher's fingerprint pinned in the "
                             "manifest")
        status = subprocess.run([*base, "--status-fd", "1", "--verify", str(signature), str(data)],
                                capture_output=True, text=True, timeout=120, check=False)
        # VALIDSIG <signing-key-fpr> ... <primary-key-fpr>: a subkey signature counts for its primary key
        valid = [line.split()[-1] for line in status.stdout.splitlines() if line.startswith("[GNUPG:] VALIDSIG")]
        if status.returncode != 0 or not valid:
            raise FetchError(f"{data.name}: the signature does not verify with {key.name}")
        if valid[0] not in fingerprints:
            raise FetchError(f"{data.name}: signed by {valid[0]}, which is not the pinned key")
        return valid[0]


def lock_artifact(manifest: Manifest, spec: ArtifactSpec, version: str, workdir: Path) -> LockEntry:
    """Download, hash and (if the manifest names a key) verify one artifact version."""
    try:
        url, sig_url, sum_url = spec.url(version), spec.signature_url(version), spec.checksum_url(version)
    except ManifestError as exc:
        raise FetchError(str(exc)) from None
    key = manifest.key_path(spec)
    if sig_url and key is not None and not key.is_file():
        # Before any download: a signature that cannot be checked is never recorded as checked.
        raise FetchError(f"signing key {key} is not in the repository; add the publisher's key "
                         f"({spec.signing_fingerprint or 'fingerprint: see CLIENTS.md'}) first")
    data = workdir / url.rsplit("/", 1)[-1]
    sha256, size = download(url, data)
    checksum = "none"
    if sum_url:
        sums = workdir / (data.name + ".checksums")
        download(sum_url, sums)
        verify_checksum_file(data, sums, spec.checksum_kind)
        checksum = f"{spec.checksum_kind}:{sum_url}"
    signature = "none"
    if sig_url:
        sig = workdir / (data.name + ".sig")
        download(sig_url, sig)
        assert key is not None
        signature = "gpg:" + verify_signature(data, sig, key, spec.signing_fingerprint)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return LockEntry(name=spec.name, version=version, url=url, status="locked", sha256=sha256, size=size,
                     signature_url=sig_url, signature=signature, locked_at=now, checksum=checksum)


def unlocked_entry(spec: ArtifactSpec, version: str, note: str) -> LockEntry:
    try:
        url, sig_url = spec.url(version), spec.signature_url(version)
    except ManifestError as exc:
        url, sig_url, note = "", "", f"{note}; {exc}"
    return LockEntry(name=spec.name, version=version, url=url, status="unlocked", signature_url=sig_url, note=note)
