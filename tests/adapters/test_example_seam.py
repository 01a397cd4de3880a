"""A second chain proves the seam: the TEST-ONLY `example` adapter (tests/adapters/example/).

It is a folder of three files plus one registry line (CHAINS below), and it installs its
client with core's apt artifact kind; nothing in core, shared/ or another adapter was edited
for it. tests/e2e/test_artifact_kinds.py applies its plan on a lab host against a real
signed repository.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.registry import ADAPTERS, REGISTRY
from infrakit.chain import Registry
from infrakit.config import ConfigError, RawConfig, Stack, load, read_stack_file
from infrakit.plan import build_plan
from tests.adapters.example import ADAPTER as EXAMPLE
from tests.infrakit.artifacts.aptrepo import Keys

CHAINS = Registry((*ADAPTERS, EXAMPLE))  # the one registry line a new chain takes
FOLDER = Path(__file__).resolve().parent / "example"
# What a chain imports besides its own folder: core and pydantic, nothing from another adapter.
ALLOWED = ("infrakit.", "pydantic", "typing", "__future__", "tests.adapters.example")


def example_values(key: str, fingerprint: str, **client: Any) -> dict[str, Any]:
    values = dict(read_stack_file("lab").values)
    values.update(
        chain="example",
        role="node",
        network="devnet",
        host={"target": "existing", "address": "10.199.0.2"},
        chainSettings={
            "client": {
                "repo": "example",
                "uri": "http://10.199.0.1:8080/apt",
                "suite": "stable",
                "components": ["main"],
                "key": key,
                "keyFingerprint": fingerprint,
                "package": "ik-standin",
                "version": "1.0.1",
                **client,
            }
        },
    )
    return values


def example_stack(key: str, fingerprint: str, **client: Any) -> Stack:
    return load(RawConfig("example-test", example_values(key, fingerprint, **client)), CHAINS)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    if shutil.which("gpg") is None:
        pytest.skip("gpg makes the test key")
    with Keys(tmp_path_factory.mktemp("gnupg")) as keys:
        fingerprint = keys.create("example@infrakit.invalid")
        yield keys.armored(fingerprint), fingerprint


def test_the_example_chain_is_one_folder_of_three_files() -> None:
    files = sorted(p.relative_to(FOLDER).as_posix() for p in FOLDER.rglob("*") if "__pycache__" not in p.parts)
    assert files == ["RUNBOOK.md", "__init__.py", "settings.py"], files
    lines = sum(len(p.read_text().splitlines()) for p in FOLDER.glob("*.py"))
    assert lines < 100, f"the example adapter should stay small ({lines} lines of Python)"
    for path in FOLDER.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").startswith(ALLOWED), f"{path.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                raise AssertionError(f"{path.name}: plain import {[a.name for a in node.names]}")
    assert (Path(__file__).resolve().parents[2] / EXAMPLE.runbook).is_file()  # type: ignore[operator]


def test_without_its_registry_line_the_chain_does_not_exist(key: tuple[str, str]) -> None:
    with pytest.raises(ConfigError, match="unknown chain 'example'"):
        load(RawConfig("example-test", example_values(*key)), REGISTRY)


def test_its_plan_installs_the_client_with_the_apt_kind(key: tuple[str, str]) -> None:
    plan = build_plan(example_stack(*key))
    step = plan.step("example_client").step
    assert step.script == "shared/artifacts/apt_package.sh"
    assert step.params["APT_VERSION"] == "1.0.1" and step.params["APT_ALLOW_DOWNGRADE"] == "0"
    assert any(c.name == "example_client" and c.kind == "command" for c in plan.health_checks)
    assert not plan.holds_keys


def test_its_bad_settings_name_the_stack_and_key(key: tuple[str, str]) -> None:
    with pytest.raises(ConfigError) as err:
        example_stack(key[0], "0" * 40)
    text = str(err.value)
    assert "example-test" in text and "infrakit:chainSettings.client" in text and "not the pinned" in text
