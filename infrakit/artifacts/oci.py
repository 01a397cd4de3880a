"""Artifact kind: a pinned, digest-addressed OCI image run as a hardened systemd unit.

Runtime choice: systemd itself. Debian's podman cannot start containers on this kind of
machine (its OCI spec raises RLIMITs that root may not raise here, see the lab notes), and a
container engine with a bridge network publishes ports through its own NAT rules, beside the
host firewall. Instead shared/artifacts/oci_image.sh fetches an OCI layout archive, checks the
manifest against the pinned digest, lets Debian's umoci unpack it (umoci verifies every blob's
digest) and this unit runs the rootfs with RootDirectory=, DynamicUser= and systemd's
sandboxing, in the host's network namespace: the host firewall sees its traffic like any
service's. Images are kept side by side per digest; `current` switches in one rename.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlparse

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from infrakit.plan.model import RenderedFile, Step
from infrakit.plan.templates import render

SCRIPT = "shared/artifacts/oci_image.sh"
TEMPLATE = "infrakit/artifacts/templates/oci.service.j2"
INSTALL_ROOT = "/opt/infrakit/oci"
_SAFE_WORD = re.compile(r"^[A-Za-z0-9_./:=,@+-]+$")
_ENV_VALUE = re.compile(r"^[A-Za-z0-9_./:=,@+ -]*$")


def _url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname or any(c.isspace() for c in value):
        raise ValueError("expected an http(s) URL of the image's OCI archive")
    if parsed.username or parsed.password:
        raise ValueError("the archive URL takes no credentials")
    return value


def _argv(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value or not value[0].startswith("/"):
        raise ValueError("expected the command as a list whose first word is an absolute path inside the image")
    for word in value:
        if not _SAFE_WORD.match(word):
            raise ValueError(f"command word {word!r}: only letters, digits and _./:=,@+- (no shell, no specifiers)")
    return value


class OciImage(BaseModel):
    """An image addressed by its manifest digest; `version` is the label a downgrade is judged by."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    version: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,40}$")
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    archive_url: Annotated[str, AfterValidator(_url)] = Field(alias="archiveUrl")
    command: Annotated[tuple[str, ...], AfterValidator(_argv)]
    environment: dict[
        Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")], Annotated[str, Field(pattern=_ENV_VALUE.pattern)]
    ] = Field(default_factory=dict)
    working_directory: str = Field(default="/", alias="workingDirectory", pattern=r"^/[A-Za-z0-9_./-]*$")
    jit: bool = False
    allow_downgrade: bool = Field(default=False, alias="allowDowngrade")

    @property
    def unit(self) -> str:
        return f"infrakit-oci-{self.name}.service"


def render_unit(image: OciImage, step: str, install_root: str = INSTALL_ROOT) -> str:
    return render(
        TEMPLATE,
        step=step,
        name=image.name,
        version=image.version,
        digest=image.digest,
        rootfs=f"{install_root}/{image.name}/{image.digest.removeprefix('sha256:')}/rootfs",
        environment=image.environment,
        working_directory=image.working_directory,
        exec_start=" ".join(image.command),
        ident=image.unit.removesuffix(".service"),
        jit=image.jit,
    )


def oci_step(
    image: OciImage, name: str | None = None, install_root: str = INSTALL_ROOT, requires: tuple[str, ...] = ()
) -> Step:
    step = name or "oci_" + image.name.replace("-", "_")
    return Step(
        name=step,
        script=SCRIPT,
        description=f"OCI image {image.name} {image.version} ({image.digest[:19]}...): digest verified, "
        f"unpacked by umoci, run as {image.unit} (RootDirectory, host network, sandboxed)"
        + ("; downgrade allowed" if image.allow_downgrade else "; downgrade refused"),
        params={
            "OCI_NAME": image.name,
            "OCI_VERSION": image.version,
            "OCI_DIGEST": image.digest,
            "OCI_ARCHIVE_URL": image.archive_url,
            "OCI_UNIT": image.unit,
            "OCI_ALLOW_DOWNGRADE": "1" if image.allow_downgrade else "0",
            "INSTALL_ROOT": install_root,
        },
        files=(
            RenderedFile(
                name=image.unit,
                dest=f"/etc/systemd/system/{image.unit}",
                content=render_unit(image, step, install_root),
            ),
        ),
        requires=requires,
    )
