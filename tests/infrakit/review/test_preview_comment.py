"""`infrakit preview-comment` on two real commits that differ in one template.

A scratch repository holds this project's files (base commit); the head commit changes one
line of the sshd hardening template. The comment must name the rendered file that changes,
the step replaced (harden_ssh, and no other), every stack and its host, and no secret.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from adapters.registry import REGISTRY
from infrakit.review.render import list_stacks

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = "shared/hardening/templates/sshd_hardening.conf.j2"
RENDERED = "steps/harden_ssh/files/sshd_hardening.conf"
WEBHOOK = "https://hooks.example.invalid/T0K3N-very-secret-value"
CIPHERTEXT = "v1:Zm9vYmFyYmF6cXV4LXNlY3VyZS1jaXBoZXJ0ZXh0"


def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    """(repo, base, head): this project's current files, then one template line changed."""
    root = tmp_path_factory.mktemp("review") / "repo"
    root.mkdir()
    files = _git(REPO, "ls-files", "-co", "--exclude-standard", "-z").split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            dst = root / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    # A stack file with a secure value, as `pulumi config set --secret` writes it.
    lab = root / "stacks/Pulumi.lab.yaml"
    doc = yaml.safe_load(lab.read_text())
    doc["config"]["infrakit:alertWebhookUrl"] = {"secure": CIPHERTEXT}
    lab.write_text(yaml.safe_dump(doc, sort_keys=False))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    base = _git(root, "rev-parse", "HEAD")
    template = root / TEMPLATE
    template.write_text(template.read_text() + "# reviewed in a pull request\n")
    _git(root, "commit", "-q", "-am", "one template line")
    head = _git(root, "rev-parse", "HEAD")
    yield root, base, head


def _run(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapters", "preview-comment", "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=repo,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def comment(scratch: tuple[Path, str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str], str]:
    repo, base, head = scratch
    out = tmp_path_factory.mktemp("out")
    result = _run(
        repo,
        "--base",
        base,
        "--head",
        head,
        "--out",
        str(out / "c.md"),
        "--affected",
        str(out / "a.json"),
        env={"INFRAKIT_SECRET_ALERTWEBHOOKURL": WEBHOOK},
    )
    assert result.returncode == 0, result.stderr
    return (out / "c.md").read_text(), json.loads((out / "a.json").read_text()), result.stderr


def test_names_the_changed_file_the_step_and_every_host(
    comment: tuple[str, list[str], str], scratch: tuple[Path, str, str]
) -> None:
    text, affected, _ = comment
    repo, base, head = scratch
    stacks = list_stacks(repo)
    assert affected == stacks, "one shared template affects every stack"
    assert f"`{base[:12]}` -> `{head[:12]}`" in text
    assert RENDERED in text and "+# reviewed in a pull request" in text
    for stack in stacks:
        assert f"### `{stack}`: changed" in text
    section = text.split("### `lab`: changed", 1)[1].split("###", 1)[0]
    assert "Host: existing host 10.199.0.2" in section
    assert "`harden_ssh`" in section and RENDERED in section
    replaced = [ln for ln in section.splitlines() if ln.startswith("- `")]
    assert len(replaced) == 1, f"only harden_ssh is replaced, got {replaced}"
    assert "hcloud server hardened-hcloud (fsn1" in text


def test_holds_no_secret(comment: tuple[str, list[str], str]) -> None:
    text, _, log = comment
    assert WEBHOOK not in text and CIPHERTEXT not in text and WEBHOOK not in log


def test_a_leaked_value_is_redacted(scratch: tuple[Path, str, str], tmp_path: Path) -> None:
    """Defence in depth: if a change ever rendered a secret into a file, the comment hides it."""
    repo, _, head = scratch
    template = repo / TEMPLATE
    template.write_text(template.read_text() + f"# {WEBHOOK} {CIPHERTEXT}\n")
    _git(repo, "commit", "-q", "-am", "leak")
    try:
        out = tmp_path / "c.md"
        result = _run(
            repo,
            "--base",
            head,
            "--head",
            "HEAD",
            "--stack",
            "lab",
            "--out",
            str(out),
            env={"INFRAKIT_SECRET_ALERTWEBHOOKURL": WEBHOOK},
        )
        assert result.returncode == 0, result.stderr
        text = out.read_text()
        assert "[redacted] [redacted]" in text
        assert WEBHOOK not in text and CIPHERTEXT not in text
    finally:
        _git(repo, "reset", "-q", "--hard", head)


def test_no_change_says_so(scratch: tuple[Path, str, str]) -> None:
    repo, _, head = scratch
    result = _run(repo, "--base", head, "--head", head, "--stack", "lab")
    assert result.returncode == 0 and "No stack's render changes (1 stacks compared)." in result.stdout


def test_bad_revision_is_a_clear_error(scratch: tuple[Path, str, str]) -> None:
    repo, _, _ = scratch
    result = _run(repo, "--base", "no-such-branch", "--head", "HEAD")
    assert result.returncode == 2
    assert "revision 'no-such-branch' is not a commit" in result.stderr and "Traceback" not in result.stderr


def test_a_stack_that_no_longer_renders_fails_the_run(scratch: tuple[Path, str, str], tmp_path: Path) -> None:
    repo, _, head = scratch
    stack = repo / "stacks/Pulumi.lab.yaml"
    stack.write_text(stack.read_text().replace("infrakit:role: host", "infrakit:role: nonsense"))
    _git(repo, "commit", "-q", "-am", "break the lab stack")
    try:
        out = tmp_path / "c.md"
        result = _run(repo, "--base", head, "--head", "HEAD", "--stack", "lab", "--out", str(out))
        assert result.returncode == 1
        text = out.read_text()
        assert "### `lab`: error" in text and "render at head failed" in text and "infrakit:role" in text
    finally:
        _git(repo, "reset", "-q", "--hard", head)


def _commit_change(repo: Path, rel: str, extra: str, message: str) -> None:
    path = repo / rel
    path.write_text(path.read_text() + extra)
    _git(repo, "commit", "-q", "-am", message)


def test_a_stack_file_change_affects_that_stack_only(scratch: tuple[Path, str, str], tmp_path: Path) -> None:
    repo, _, head = scratch
    _commit_change(repo, "stacks/Pulumi.hardened-existing.yaml", "# reviewed\n", "comment in one stack file")
    try:
        result = _run(repo, "--base", head, "--head", "HEAD", "--affected", str(tmp_path / "a.json"))
        assert result.returncode == 0, result.stderr
        assert json.loads((tmp_path / "a.json").read_text()) == ["hardened-existing"]
    finally:
        _git(repo, "reset", "-q", "--hard", head)


def test_a_program_change_affects_every_stack_and_validators_need_approval(
    scratch: tuple[Path, str, str], tmp_path: Path
) -> None:
    """components/ changes resources without changing any render: every stack is previewed,
    and the deploy groups split them by role as the program does (the adapter's Role.holds_keys)."""
    from infrakit.config import load_stack  # noqa: PLC0415

    repo, _, head = scratch
    _commit_change(repo, "components/node.py", "# reviewed\n", "program change")
    try:
        out = tmp_path / "c.md"
        groups_file = tmp_path / "g.json"
        result = _run(
            repo,
            "--base",
            head,
            "--head",
            "HEAD",
            "--out",
            str(out),
            "--affected",
            str(tmp_path / "a.json"),
            "--deploy-groups",
            str(groups_file),
        )
        assert result.returncode == 0, result.stderr
        stacks = list_stacks(repo)
        assert json.loads((tmp_path / "a.json").read_text()) == stacks
        assert "the Pulumi program changed (components/node.py)" in out.read_text()
        groups = json.loads(groups_file.read_text())
        validators = [s for s in stacks if load_stack(s, REGISTRY).holds_keys]
        assert validators, "the shipped stacks include validators"
        assert groups == {"auto": [s for s in stacks if s not in validators], "approval": validators}
    finally:
        _git(repo, "reset", "-q", "--hard", head)
