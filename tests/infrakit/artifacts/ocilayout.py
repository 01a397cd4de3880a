"""TEST OCI images built locally with Debian's umoci: a busybox rootfs whose httpd serves
/www/version, written as an OCI layout and packed into a tar (an "oci-archive")."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")  # busybox-static: no shared libraries needed in the rootfs
PORT = 18080


def umoci(*args: str) -> None:
    subprocess.run(["umoci", *args], capture_output=True, text=True, check=True)


def build_image(work: Path, version: str) -> tuple[Path, str]:
    """An OCI layout for `version` packed as work/web-<version>.tar; returns (archive, manifest digest)."""
    layout = work / f"layout-{version}"
    bundle = work / f"bundle-{version}"
    for path in (layout, bundle):
        if path.exists():
            shutil.rmtree(path)
    umoci("init", "--layout", str(layout))
    umoci("new", "--image", f"{layout}:{version}")
    umoci("unpack", "--image", f"{layout}:{version}", str(bundle))
    rootfs = bundle / "rootfs"
    (rootfs / "bin").mkdir(parents=True, exist_ok=True)
    (rootfs / "www").mkdir(exist_ok=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    (rootfs / "www" / "version").write_text(f"{version}\n")
    umoci("repack", "--image", f"{layout}:{version}", str(bundle))
    umoci("config", "--image", f"{layout}:{version}", "--config.cmd", "/bin/busybox")
    index = json.loads((layout / "index.json").read_text())
    [digest] = [
        m["digest"]
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == version
    ]
    archive = work / f"web-{version}.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(layout, arcname=".")
    shutil.rmtree(bundle)
    return archive, digest


def corrupt_a_layer(archive: Path, out: Path) -> None:
    """The same archive with one byte of its (largest) layer blob flipped, names unchanged."""
    work = out.with_suffix(".d")
    if work.exists():
        shutil.rmtree(work)
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    blob = max((work / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    with tarfile.open(out, "w") as tar:
        tar.add(work, arcname=".")
    shutil.rmtree(work)
