"""The npm kind's model: the committed lockfile is the pin, checked before any host sees it.

The fixtures are real lockfiles written by npm (`npm install --package-lock-only
--omit-lockfile-registry-resolved=false semver@<v>`) against the npm registry: semver 7.6.0
(with lru-cache and yallist) and 7.6.3 (no dependencies).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from infrakit.artifacts.npm import NpmPackage, check_lockfile, npm_step

LOCKS = Path(__file__).resolve().parent / "npm"


def lockfile(version: str) -> str:
    return (LOCKS / f"semver-{version}.lock.json").read_text()


def pkg(version: str = "7.6.3", **overrides: Any) -> NpmPackage:
    values: dict[str, Any] = {
        "name": "semver",
        "package": "semver",
        "version": version,
        "user": "ops",
        "registry": "http://10.199.0.1:8080",
        "binaries": ["semver"],
    }
    values.update(overrides)
    values.setdefault("lockfile", lockfile(version if version in {"7.6.0", "7.6.3"} else "7.6.3"))
    return NpmPackage.model_validate(values)


def test_real_lockfiles_pass_and_the_step_carries_them() -> None:
    step = npm_step(pkg("7.6.0"))
    assert step.name == "npm_semver" and step.script == "shared/artifacts/npm_package.sh"
    assert step.params["NPM_REGISTRY"] == "http://10.199.0.1:8080/"
    assert step.params["NODE_BIN"] == "/opt/infrakit/node/current/bin/node"
    assert step.params["NPM_CLI"] == "/opt/infrakit/npm/current/bin/npm-cli.js"
    assert step.params["NPM_IGNORE_SCRIPTS"] == "1" and step.params["NPM_ALLOW_DOWNGRADE"] == "0"
    files = {f.name: f.content for f in step.files}
    assert files["package-lock.json"] == lockfile("7.6.0")
    assert json.loads(files["package.json"])["dependencies"] == {"semver": "7.6.0"}


def mutate(version: str, change: Any) -> str:
    lock = json.loads(lockfile(version))
    change(lock["packages"])
    return json.dumps(lock)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["node_modules/yallist"].pop("integrity"), "sha512"),
        (lambda p: p["node_modules/yallist"].update(integrity="sha1-abc"), "sha512"),
        (lambda p: p["node_modules/yallist"].update(integrity="sha512-AAAA"), "not a base64 sha512"),
        (lambda p: p["node_modules/yallist"].pop("resolved"), "resolved"),
        (lambda p: p["node_modules/yallist"].update(resolved="git+ssh://x/y.git"), "resolved"),
        (lambda p: p["node_modules/yallist"].update(link=True), "linked"),
        (lambda p: p[""].update(dependencies={"semver": "^7.6.0"}), "exactly semver@7.6.0"),
        (lambda p: p["node_modules/semver"].update(version="7.6.1"), "not at version 7.6.0"),
        (lambda p: p.update({"../evil": {}}), "under node_modules"),
    ],
)
def test_a_lockfile_that_does_not_pin_everything_is_refused(change: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_lockfile(mutate("7.6.0", change), "semver", "7.6.0")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"version": "7.6.0", "lockfile": lockfile("7.6.3")}, "exactly semver@7.6.0"),  # pins 7.6.3
        ({"version": "^7.6.3"}, "pattern"),
        ({"user": "root"}, "never runs as root"),
        ({"user": "Bad User"}, "pattern"),
        ({"registry": "ftp://x"}, "http"),
        ({"registry": "https://u:p@registry.example/"}, "credentials"),
        ({"package": "../../etc"}, "pattern"),
        ({"binaries": ["../sh"]}, "pattern"),
        ({"lockfile": "{]"}, "not JSON"),
    ],
)
def test_bad_values_are_refused(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        pkg(**override)
