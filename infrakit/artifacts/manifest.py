"""The desired-version manifest: one TOML table per artifact.

    [artifacts.geth]
    version = "1.16.7"
    url = "https://.../geth-linux-amd64-{version}-{commit}.tar.gz"
    commit = "b9f3a3d9"          # any extra key is a template field
    kind = "tar.gz"              # tar.gz | zip | binary
    strip = 1                    # leading path components removed when unpacking
    binaries = ["geth"]          # paths (after unpacking) that must be executable
    signature_url = "{url}.asc"  # optional: a detached OpenPGP signature
    signing_key = "keys/geth.asc"  # optional: armored public key, relative to the manifest
    signing_fingerprint = "15E6..."  # optional: the primary key's fingerprint the signature must have
    checksum_url = "{url}.sha256"    # optional: the publisher's checksum file, checked by `infrakit lock`
    checksum_kind = "sha256"         # sha256 | sha512
    per_version = ["commit"]         # template keys that differ per release, from the releases table:
    [artifacts.geth.releases."1.16.7"]
    commit = "b9f3a3d9"
    rollback = "within-schema"       # any | within-schema | never (see DOWNGRADE)
    schema_changes = ["8.3.0"]       # releases whose database an older release cannot read

Templates take `{version}`, `{url}` (signature and checksum only) and every extra string key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,40}$")
KINDS = ("tar.gz", "zip", "binary")
LOCAL_HTTP_RE = re.compile(r"^http://(127\.[0-9.]+|10\.199\.[0-9.]+|\[::1\])(:[0-9]+)?/")
_KNOWN = {"version", "url", "kind", "strip", "binaries", "signature_url", "signing_key", "description",
          "signing_fingerprint", "checksum_url", "checksum_kind", "per_version", "releases", "rollback",
          "schema_changes"}
CHECKSUM_KINDS = ("sha256", "sha512")
ROLLBACK = ("any", "within-schema", "never")
FINGERPRINT_RE = re.compile(r"^[0-9A-F]{40}$")


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class ArtifactSpec:
    name: str
    version: str
    url_template: str
    kind: str = "tar.gz"
    strip: int = 0
    binaries: tuple[str, ...] = ()
    signature_template: str = ""
    signing_key: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    description: str = ""
    signing_fingerprint: str = ""
    checksum_template: str = ""
    checksum_kind: str = "sha256"
    per_version: tuple[str, ...] = ()
    releases: dict[str, dict[str, str]] = field(default_factory=dict)
    rollback: str = "never"
    schema_changes: tuple[str, ...] = ()

    def fields_for(self, version: str | None = None) -> dict[str, str]:
        """Template fields for `version`: the per-version ones only from that version's own entry."""
        version = version or self.version
        own = self.releases.get(version, {})
        missing = [key for key in self.per_version if not own.get(key)]
        if missing:
            raise ManifestError(
                f"artifact {self.name} {version}: {', '.join(missing)} differs per release and is not recorded for "
                f"{version}; add [artifacts.{self.name}.releases.\"{version}\"] {missing[0]} = \"...\" to the manifest "
                "(read it from the release's file name), never reuse another version's")
        return {**self.fields, **{key: own[key] for key in self.per_version}}

    def url(self, version: str | None = None) -> str:
        return self.url_template.format(version=version or self.version, **self.fields_for(version))

    def signature_url(self, version: str | None = None) -> str:
        if not self.signature_template:
            return ""
        return self.signature_template.format(version=version or self.version, url=self.url(version),
                                              **self.fields_for(version))

    def checksum_url(self, version: str | None = None) -> str:
        if not self.checksum_template:
            return ""
        return self.checksum_template.format(version=version or self.version, url=self.url(version),
                                             **self.fields_for(version))


@dataclass(frozen=True)
class Manifest:
    path: Path
    artifacts: dict[str, ArtifactSpec]

    def get(self, name: str) -> ArtifactSpec:
        if name not in self.artifacts:
            raise ManifestError(f"{self.path}: no artifact {name!r} (known: {', '.join(sorted(self.artifacts))})")
        return self.artifacts[name]

    def key_path(self, spec: ArtifactSpec) -> Path | None:
        return (self.path.parent / spec.signing_key) if spec.signing_key else None


def _extras(where: str, name: str, table: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """The keys beyond download and unpack: per-version URL parts, checksums, signer, rollback."""
    per_version = table.get("per_version", [])
    releases = table.get("releases", {})
    if not isinstance(per_version, list) or not all(isinstance(k, str) for k in per_version):
        raise ManifestError(f"{where}.per_version: expected a list of template keys")
    if not isinstance(releases, dict) or not all(isinstance(v, dict) for v in releases.values()):
        raise ManifestError(f'{where}.releases: expected [artifacts.{name}.releases."<version>"] tables')
    for key in per_version:
        if key in fields:
            raise ManifestError(f"{where}.{key}: listed in per_version, so it belongs in the releases tables only")
    fingerprint = str(table.get("signing_fingerprint", "")).replace(" ", "").upper()
    if fingerprint and not FINGERPRINT_RE.match(fingerprint):
        raise ManifestError(f"{where}.signing_fingerprint: expected 40 hex digits (an OpenPGP v4 fingerprint)")
    checksum_kind = str(table.get("checksum_kind", "sha256"))
    if checksum_kind not in CHECKSUM_KINDS:
        raise ManifestError(f"{where}.checksum_kind: expected one of {', '.join(CHECKSUM_KINDS)}")
    rollback = str(table.get("rollback", "never"))
    if rollback not in ROLLBACK:
        raise ManifestError(f"{where}.rollback: expected one of {', '.join(ROLLBACK)}")
    schema_changes = table.get("schema_changes", [])
    if not isinstance(schema_changes, list) or not all(VERSION_RE.match(str(v)) for v in schema_changes):
        raise ManifestError(f"{where}.schema_changes: expected a list of versions")
    return {
        "signing_fingerprint": fingerprint,
        "checksum_kind": checksum_kind,
        "per_version": tuple(per_version),
        "releases": {str(v): {k: str(x) for k, x in t.items()} for v, t in releases.items()},
        "rollback": rollback,
        "schema_changes": tuple(str(v) for v in schema_changes),
    }


def _spec(path: Path, name: str, table: dict[str, Any]) -> ArtifactSpec:
    where = f"{path}: artifacts.{name}"
    if not NAME_RE.match(name):
        raise ManifestError(f"{where}: bad artifact name (lower-case letters, digits, '-')")
    version = str(table.get("version", ""))
    if not VERSION_RE.match(version):
        raise ManifestError(f"{where}.version: expected a version like 1.2.3 (got {version!r})")
    url = str(table.get("url", ""))
    if not (url.startswith("https://") or LOCAL_HTTP_RE.match(url)):
        raise ManifestError(f"{where}.url: upstream URLs must be https:// (plain http only for a loopback or "
                            "lab test server)")
    kind = str(table.get("kind", "tar.gz"))
    if kind not in KINDS:
        raise ManifestError(f"{where}.kind: expected one of {', '.join(KINDS)}")
    binaries = table.get("binaries", [])
    if not binaries or not all(isinstance(b, str) and b and ".." not in b and not b.startswith("/") for b in binaries):
        raise ManifestError(f"{where}.binaries: expected a non-empty list of relative paths")
    fields = {k: str(v) for k, v in table.items() if k not in _KNOWN}
    extra = _extras(where, name, table, fields)
    spec = ArtifactSpec(
        name=name,
        version=version,
        url_template=url,
        kind=kind,
        strip=int(table.get("strip", 0)),
        binaries=tuple(binaries),
        signature_template=str(table.get("signature_url", "")),
        signing_key=str(table.get("signing_key", "")),
        fields=fields,
        description=str(table.get("description", "")),
        checksum_template=str(table.get("checksum_url", "")),
        **extra,
    )
    probe = {**fields, **dict.fromkeys(spec.per_version, "x")}
    try:
        for template in (spec.url_template, spec.signature_template, spec.checksum_template):
            template.format(version=version, url="u", **probe)
    except (KeyError, IndexError, ValueError) as exc:
        raise ManifestError(f"{where}: URL template needs a field that is not set ({exc})") from None
    if bool(spec.signature_template) != bool(spec.signing_key):
        raise ManifestError(f"{where}: signature_url and signing_key go together")
    return spec


def read_manifest(path: Path) -> Manifest:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc})") from None
    tables = doc.get("artifacts")
    if not isinstance(tables, dict) or not tables:
        raise ManifestError(f"{path}: expected [artifacts.<name>] tables")
    return Manifest(path, {name: _spec(path, name, table) for name, table in tables.items()})
