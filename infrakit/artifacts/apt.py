"""Artifact kind: one package at an exact version from a signed apt repository, held.

The stack (or an adapter) names the repository (URI, suite, components), its armored public
key and that key's fingerprint, the package and its exact version. The plan renders the
three files apt reads (keyring under /etc/apt/keyrings, a deb822 source whose Signed-By
names the keyring and the fingerprint, a pin at exactly that version) and
shared/artifacts/apt_package.sh installs them, refreshes only that repository (apt refuses
a missing, bad or foreign signature), installs the version and holds it. A downgrade is
refused unless `allow_downgrade` says so.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlparse

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from infrakit.artifacts.openpgp import OpenPgpError, primary_fingerprint
from infrakit.plan.model import RenderedFile, Step

SCRIPT = "shared/artifacts/apt_package.sh"
KEYRINGS = "/etc/apt/keyrings"
NAME = r"^[a-z][a-z0-9-]{0,30}$"
PACKAGE = r"^[a-z0-9][a-z0-9+.-]+$"
DEB_VERSION = r"^([0-9]+:)?[0-9][A-Za-z0-9.+~-]{0,80}$"
_HOST = re.compile(r"^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:]+\]$")


def _uri(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname or any(c.isspace() for c in value):
        raise ValueError("expected an http(s) URL of the repository (apt checks the signature either way)")
    if parsed.query or parsed.fragment or parsed.username or parsed.password:
        raise ValueError("the repository URL takes no query, fragment or credentials")
    if not _HOST.match(parsed.netloc.rsplit(":", 1)[0] if parsed.port else parsed.netloc):
        raise ValueError("bad host in the repository URL")
    return value.rstrip("/")


def _fingerprint(value: str) -> str:
    clean = value.replace(" ", "").upper()
    if not re.fullmatch(r"[0-9A-F]{40}", clean):
        raise ValueError("expected the key's full 40-hex-digit fingerprint (short key ids are forgeable)")
    return clean


class AptPackage(BaseModel):
    """A package from a signed apt repository, pinned to `version` and held there."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    repo: str = Field(pattern=NAME)
    uri: Annotated[str, AfterValidator(_uri)]
    suite: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
    components: tuple[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")], ...] = Field(min_length=1)
    key: str = Field(min_length=1, max_length=65536)
    key_fingerprint: Annotated[str, AfterValidator(_fingerprint)] = Field(alias="keyFingerprint")
    package: str = Field(pattern=PACKAGE)
    version: str = Field(pattern=DEB_VERSION)
    allow_downgrade: bool = Field(default=False, alias="allowDowngrade")

    @model_validator(mode="after")
    def _key_matches(self) -> AptPackage:
        try:
            found = primary_fingerprint(self.key)
        except OpenPgpError as exc:
            raise ValueError(f"key: {exc}") from None
        if found != self.key_fingerprint:
            raise ValueError(f"key: its fingerprint is {found}, not the pinned {self.key_fingerprint}")
        return self

    @property
    def keyring(self) -> str:
        return f"{KEYRINGS}/infrakit-{self.repo}.asc"

    @property
    def origin(self) -> str:
        return urlparse(self.uri).hostname or ""


def render_sources(pkg: AptPackage, step: str) -> str:
    return (
        f"# Managed by InfraKit ({step}). Signed-By: this keyring AND this fingerprint: apt accepts\n"
        "# the repository only when its InRelease is signed by that key.\n"
        "Types: deb\n"
        f"URIs: {pkg.uri}\n"
        f"Suites: {pkg.suite}\n"
        f"Components: {' '.join(pkg.components)}\n"
        f"Signed-By: {pkg.keyring} {pkg.key_fingerprint}\n"
    )


def render_pin(pkg: AptPackage, step: str) -> str:
    return (
        f"# Managed by InfraKit ({step}): {pkg.package} at exactly {pkg.version}; nothing else from\n"
        "# this repository may replace a package from the distribution (priority below 500).\n"
        f"Package: {pkg.package}\n"
        f"Pin: version {pkg.version}\n"
        "Pin-Priority: 1001\n"
        "\n"
        "Package: *\n"
        f'Pin: origin "{pkg.origin}"\n'
        "Pin-Priority: 100\n"
    )


def apt_step(pkg: AptPackage, name: str | None = None, requires: tuple[str, ...] = ()) -> Step:
    step = name or "apt_" + pkg.package.replace("-", "_").replace(".", "_").replace("+", "_")
    return Step(
        name=step,
        script=SCRIPT,
        description=f"{pkg.package} {pkg.version} from signed apt repository {pkg.repo} "
        f"(key {pkg.key_fingerprint[-16:]}), pinned and held"
        + ("; downgrade allowed" if pkg.allow_downgrade else "; downgrade refused"),
        params={
            "APT_REPO": pkg.repo,
            "APT_PACKAGE": pkg.package,
            "APT_VERSION": pkg.version,
            "APT_ALLOW_DOWNGRADE": "1" if pkg.allow_downgrade else "0",
        },
        files=(
            RenderedFile(name=f"infrakit-{pkg.repo}.asc", dest=pkg.keyring, content=pkg.key.strip() + "\n"),
            RenderedFile(
                name=f"infrakit-{pkg.repo}.sources",
                dest=f"/etc/apt/sources.list.d/infrakit-{pkg.repo}.sources",
                content=render_sources(pkg, step),
            ),
            RenderedFile(
                name=f"infrakit-{pkg.repo}.pref",
                dest=f"/etc/apt/preferences.d/infrakit-{pkg.repo}.pref",
                content=render_pin(pkg, step),
            ),
        ),
        requires=requires,
    )
