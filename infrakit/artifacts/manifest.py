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

Templates take `{version}`, `{url}` (signature only) and every extra string key.
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
_KNOWN = {"version", "url", "kind", "strip", "binaries", "signature_url", "signing_key", "description"}


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

    def url(self, version: str | None = None) -> str:
        return self.url_template.format(version=version or self.version, **self.fields)

    def signature_url(self, version: str | None = None) -> str:
        if not self.signature_template:
            return ""
        return self.signature_template.format(version=version or self.version, url=self.url(version), **self.fields)


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
    )
    try:
        spec.url()
        spec.signature_url()
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
