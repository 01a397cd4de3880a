"""The OCI image kind's model: checked values, and the hardened unit that runs the image."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from infrakit.artifacts.oci import OciImage, oci_step

DIGEST = "sha256:" + "ab" * 32


def image(**overrides: Any) -> OciImage:
    values: dict[str, Any] = {
        "name": "web",
        "version": "1.1.0",
        "digest": DIGEST,
        "archiveUrl": "http://10.199.0.1:8080/web-1.1.0.tar",
        "command": ["/bin/busybox", "httpd", "-f", "-p", "18080"],
    }
    values.update(overrides)
    return OciImage.model_validate(values)


def test_step_params_and_the_unit_runs_the_pinned_rootfs_sandboxed_on_the_host_network() -> None:
    step = oci_step(image())
    assert step.name == "oci_web" and step.script == "shared/artifacts/oci_image.sh"
    assert step.params["OCI_DIGEST"] == DIGEST and step.params["OCI_UNIT"] == "infrakit-oci-web.service"
    assert step.params["OCI_ALLOW_DOWNGRADE"] == "0"
    [unit] = step.files
    assert unit.dest == "/etc/systemd/system/infrakit-oci-web.service"
    text = unit.content
    # the digest's own directory: systemd refuses a RootDirectory through the `current` symlink
    assert f"RootDirectory=/opt/infrakit/oci/web/{DIGEST.removeprefix('sha256:')}/rootfs\n" in text
    assert "ExecStart=/bin/busybox httpd -f -p 18080\n" in text
    for line in (
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=",
        "MemoryDenyWriteExecute=yes",
        "SystemCallFilter=@system-service",
    ):
        assert f"\n{line}\n" in text, line
    # the firewall is not bypassed: no own network namespace, bridge or port publishing
    assert "PrivateNetwork" not in text and "NetworkNamespacePath" not in text
    assert DIGEST in text, "the unit names the image it runs (its change restarts the service)"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"digest": "sha256:abc"}, "pattern"),
        ({"digest": "md5:" + "a" * 32}, "pattern"),
        ({"archiveUrl": "file:///tmp/x.tar"}, "http"),
        ({"archiveUrl": "https://u:p@h/x.tar"}, "credentials"),
        ({"command": ["busybox"]}, "absolute path"),
        ({"command": ["/bin/sh", "-c", "echo $HOME; rm -rf /"]}, "no shell"),
        ({"command": ["/bin/x", "%h"]}, "no shell"),
        ({"environment": {"lower": "x"}}, "pattern"),
        ({"environment": {"X": "a\nExecStartPre=/bin/evil"}}, "pattern"),
        ({"workingDirectory": "relative"}, "pattern"),
        ({"name": "Web"}, "pattern"),
        ({"version": "1.0 1"}, "pattern"),
    ],
)
def test_bad_values_are_refused(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        image(**override)


def test_jit_and_downgrade_switches() -> None:
    step = oci_step(image(jit=True, allowDowngrade=True))
    assert "MemoryDenyWriteExecute=yes" not in step.files[0].content
    assert step.params["OCI_ALLOW_DOWNGRADE"] == "1"
