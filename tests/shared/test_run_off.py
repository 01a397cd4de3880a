"""run_off.sh against a fake bundle in a temp dir (needs root: the runner refuses otherwise).

The off runner is what both control planes call when a feature is turned off: it must never
switch off a step the installed plan still has, must run the step's off action, and must drop
the step's record so that turning the feature on again runs the step again.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.shared.conftest import LIB, clean_env, require_root

OFF_ACTION = """#!/usr/bin/env bash
# probe.sh (off): records that it ran.
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
touch "$IK_BUNDLE/off-ran"
printf 'step=%s\\n' "$IK_STEP" >&2
[[ -n "${OFF_EXIT:-}" ]] && exit "$OFF_EXIT"
ik_changed
ik_done
"""


@dataclass
class Bundle:
    root: Path
    state: Path

    def record(self, step: str) -> Path:
        self.state.mkdir(exist_ok=True)
        path = self.state / f"{step}.hash"
        path.write_text("ab" * 32 + "\n")
        return path

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.root / "shared/lib/run_off.sh"), *args],
            capture_output=True,
            text=True,
            env=clean_env(self.root.parent, IK_STATE_DIR=str(self.state), **env),
            timeout=60,
            check=False,
        )

    @property
    def off_ran(self) -> bool:
        return (self.root / "off-ran").exists()


@pytest.fixture
def bundle(tmp_path: Path) -> Bundle:
    require_root()
    root = tmp_path / "bundle"
    (root / "shared/off").mkdir(parents=True)
    shutil.copytree(LIB, root / "shared/lib")
    (root / "shared/off/probe.sh").write_text(OFF_ACTION)
    root.chmod(0o700)
    return Bundle(root, tmp_path / "state")


def test_a_step_the_installed_plan_still_has_is_never_turned_off(bundle: Bundle) -> None:
    """A renamed resource or `pulumi destroy` deletes a Step whose step is still planned."""
    (bundle.root / "steps/probe").mkdir(parents=True)
    (bundle.root / "steps/probe/hash").write_text("ab" * 32 + "\n")
    record = bundle.record("probe")
    result = bundle.run("probe")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "infrakit: step=probe changed=0"
    assert not bundle.off_ran and record.exists()


def test_a_step_out_of_the_plan_runs_its_off_action_and_loses_its_record(bundle: Bundle) -> None:
    record = bundle.record("probe")
    result = bundle.run("probe")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "infrakit: step=probe changed=1"
    assert bundle.off_ran and not record.exists()
    assert "step=probe" in result.stderr, "the off action runs as the step (IK_STEP)"


def test_a_failing_off_action_keeps_the_record(bundle: Bundle) -> None:
    record = bundle.record("probe")
    result = bundle.run("probe", OFF_EXIT="7")
    assert result.returncode == 7
    assert record.exists(), "a retry must still know the step was on"


def test_a_step_without_an_off_action_only_loses_its_record(bundle: Bundle) -> None:
    record = bundle.record("node_env")
    result = bundle.run("node_env")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "infrakit: step=node_env changed=0"
    assert not record.exists() and not bundle.off_ran


@pytest.mark.parametrize("args", [[], ["../etc"], ["Probe"], ["a", "b"]])
def test_bad_arguments_are_refused(bundle: Bundle, args: list[str]) -> None:
    assert bundle.run(*args).returncode == 2


def test_every_off_action_belongs_to_a_step_the_plan_can_drop() -> None:
    """shared/off/<step>.sh is found by name: a typo would silently never run."""
    from infrakit.plan.sources import PROJECT_ROOT  # noqa: PLC0415

    optional = {"fail2ban", "sysctl", "node_exporter", "monitoring_units", "web_proxy", "web_tls"}
    actions = {p.stem for p in (PROJECT_ROOT / "shared/off").glob("*.sh")}
    assert actions == optional
