"""The apt kind's model: every value that reaches the host is checked, and the files apt reads."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from infrakit.artifacts.apt import AptPackage, apt_step
from infrakit.artifacts.openpgp import OpenPgpError, primary_fingerprint
from infrakit.plan.sources import bundle_sources
from tests.infrakit.artifacts.aptrepo import Keys

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg makes the test keys")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Keys, str, str]]:
    with Keys(tmp_path_factory.mktemp("gnupg")) as k:
        yield k, k.create("repo@infrakit.invalid"), k.create("other@infrakit.invalid")


def pkg(keys: tuple[Keys, str, str], **overrides: Any) -> AptPackage:
    k, fpr, _ = keys
    values: dict[str, Any] = {
        "repo": "standin",
        "uri": "http://10.199.0.1:8080/",
        "suite": "stable",
        "components": ["main"],
        "key": k.armored(fpr),
        "keyFingerprint": fpr,
        "package": "ik-standin",
        "version": "1.0.1",
    }
    values.update(overrides)
    return AptPackage.model_validate(values)


def test_the_fingerprint_is_computed_from_the_key_as_gpg_does(keys: tuple[Keys, str, str]) -> None:
    k, fpr, other = keys
    assert primary_fingerprint(k.armored(fpr)) == fpr
    assert primary_fingerprint(k.armored(other)) == other
    with pytest.raises(OpenPgpError, match="ASCII-armored"):
        primary_fingerprint("not a key")


def test_step_renders_keyring_signed_by_fingerprint_and_exact_pin(keys: tuple[Keys, str, str]) -> None:
    step = apt_step(pkg(keys))
    files = {f.dest: f.content for f in step.files}
    fpr = keys[1]
    assert files["/etc/apt/keyrings/infrakit-standin.asc"].startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    sources = files["/etc/apt/sources.list.d/infrakit-standin.sources"]
    assert f"Signed-By: /etc/apt/keyrings/infrakit-standin.asc {fpr}\n" in sources
    assert "URIs: http://10.199.0.1:8080\n" in sources
    pin = files["/etc/apt/preferences.d/infrakit-standin.pref"]
    assert "Package: ik-standin\nPin: version 1.0.1\nPin-Priority: 1001\n" in pin
    assert 'Pin: origin "10.199.0.1"\nPin-Priority: 100\n' in pin
    assert step.params == {
        "APT_REPO": "standin",
        "APT_PACKAGE": "ik-standin",
        "APT_VERSION": "1.0.1",
        "APT_ALLOW_DOWNGRADE": "0",
    }
    assert apt_step(pkg(keys, allowDowngrade=True)).params["APT_ALLOW_DOWNGRADE"] == "1"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"keyFingerprint": "ABCD1234"}, "40-hex-digit"),
        ({"uri": "ftp://x/"}, "http"),
        ({"uri": "http://h/ x"}, "http"),
        ({"uri": "https://user:pw@h/"}, "credentials"),
        ({"suite": "stable\nEvil: 1"}, "pattern"),
        ({"components": []}, "at least 1"),
        ({"package": "Bad_Name"}, "pattern"),
        ({"version": "1.0; rm -rf /"}, "pattern"),
        ({"repo": "../x"}, "pattern"),
        ({"key": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"}, "packet"),
        ({"extra": 1}, "Extra inputs"),
    ],
)
def test_bad_values_are_refused(keys: tuple[Keys, str, str], override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        pkg(keys, **override)


def test_a_key_that_is_not_the_pinned_fingerprint_is_refused(keys: tuple[Keys, str, str]) -> None:
    k, fpr, other = keys
    with pytest.raises(ValidationError, match=f"its fingerprint is {other}, not the pinned {fpr}"):
        pkg(keys, key=k.armored(other))


def test_a_fingerprint_with_spaces_is_normalised(keys: tuple[Keys, str, str]) -> None:
    fpr = keys[1]
    spaced = " ".join(fpr[i : i + 4] for i in range(0, 40, 4)).lower()
    assert pkg(keys, keyFingerprint=spaced).key_fingerprint == fpr


def test_the_script_is_shipped() -> None:
    assert "shared/artifacts/apt_package.sh" in bundle_sources()
