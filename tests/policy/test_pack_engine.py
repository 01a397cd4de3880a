"""The policy pack run for real: `scripts/pulumi preview --policy-pack policy` (the pack directory,
run by the language host's RunPlugin) and `--policy-pack policy/analyzer` (the executable) on
InfraKit's own program, a clean stack and violating ones (marker `engine`).

The pack reads the program's `policyFacts` stack output. Until __main__.py exports it (one line,
`pulumi.export(FACTS_OUTPUT, policy_facts(stack, plan))`), this test's copy of the project adds
that line to its copy of __main__.py, and says so; the repository's files are not changed.
No lab host is needed: a preview of a new stack connects to nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from infrakit.config import read_stack_file
from infrakit.plan.sources import PROJECT_ROOT

pytestmark = pytest.mark.engine

ENGINE = PROJECT_ROOT / ".infrakit" / "engine"
PASSPHRASE = "infrakit-lab-not-secret"
EXPORT = (
    "\nfrom infrakit.policy_facts import FACTS_OUTPUT, policy_facts  # noqa: E402\n"
    "pulumi.export(FACTS_OUTPUT, policy_facts(stack, plan))\n"
)


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not (ENGINE / "pulumi").exists():
        message = f"the policy pack's real run needs the engine at {ENGINE} (scripts/setup.sh builds it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("policy-engine")
    files = subprocess.run(
        ["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for raw in filter(None, files):
        rel = raw.decode()
        if rel.startswith("stacks/Pulumi.") or not (PROJECT_ROOT / rel).is_file():
            continue
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / rel, root / rel)
    (root / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    (root / ".infrakit").mkdir()
    (root / ".infrakit" / "engine").symlink_to(ENGINE.resolve())
    main = root / "__main__.py"
    if "policy_facts" not in main.read_text():
        main.write_text(main.read_text() + EXPORT)
    yield root


PACKS = ["policy", "policy/analyzer"]


def _preview(root: Path, stack: str, values: dict[str, Any], pack: str = "policy") -> subprocess.CompletedProcess[str]:
    (root / "stacks").mkdir(exist_ok=True)
    doc = {"config": {f"infrakit:{k}": v for k, v in values.items()}}
    (root / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    env = {**os.environ, "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, "NO_COLOR": "1"}
    pulumi = str(root / "scripts" / "pulumi")
    init = subprocess.run(
        [pulumi, "stack", "select", "--create", stack, "--non-interactive"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    return subprocess.run(
        [pulumi, "preview", "-s", stack, "--non-interactive", "--policy-pack", pack],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _values(stack: str, **changes: Any) -> dict[str, Any]:
    values = dict(read_stack_file(stack).values)
    for key, value in changes.items():
        values[key] = {**values[key], **value}
    return values


@pytest.mark.parametrize("pack", PACKS)
def test_a_clean_stack_passes(copy: Path, pack: str) -> None:
    result = _preview(copy, "lab", _values("lab"), pack)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert f"infrakit@v0.1.0 (local: {pack})" in out and "mandatory" not in out


@pytest.mark.parametrize("pack", PACKS)
def test_ssh_open_to_the_world_fails_the_preview(copy: Path, pack: str) -> None:
    values = _values("lab", access={"adminCidrs": ["0.0.0.0/0"], "allowSshFromAnywhere": True})
    result = _preview(copy, "lab-open", values, pack)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-4000:]
    assert "[mandatory]  ssh-not-open-to-world" in out and "opens SSH to the world (0.0.0.0/0)" in out


def test_an_unprotected_validator_with_unpinned_artifacts_fails(copy: Path) -> None:
    values = _values("eth-hoodi-validator", host={"protection": False})
    result = _preview(copy, "eth-hoodi-validator", values)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-4000:]
    assert "[mandatory]  validator-protected" in out and "is not protected" in out
    assert "[mandatory]  artifacts-pinned" in out and "no sha256 (unlocked" in out
