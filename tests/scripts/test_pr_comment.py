"""scripts/pr-comment.sh against a stand-in `gh` (no network): one comment per marker,
updated in place; bad input refused before any API call."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "pr-comment.sh"
MARKER = "<!-- infrakit:render-diff -->"

# A stand-in for the GitHub CLI: lists the comments in $FAKE_COMMENTS (JSON) applying the
# --jq filter's marker test, and logs every other call with the body it would send.
FAKE_GH = r"""#!/usr/bin/env python3
import json, os, re, sys
args = sys.argv[1:]
log = open(os.environ["FAKE_LOG"], "a")
if "--paginate" in args:
    jq = args[args.index("--jq") + 1]
    marker = re.search(r'startswith\("(.*)"\)', jq).group(1)
    for c in json.loads(os.environ.get("FAKE_COMMENTS", "[]")):
        if c["body"].startswith(marker):
            print(c["id"])
    sys.exit(int(os.environ.get("FAKE_LIST_RC", "0")))
body = next(a for a in args if a.startswith("body=@"))[len("body=@"):]
log.write(json.dumps({"args": args, "body": open(body).read()}) + "\n")
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    gh = tmp_path / "gh"
    gh.write_text(FAKE_GH)
    gh.chmod(0o755)
    body = tmp_path / "body.md"
    body.write_text(f"{MARKER}\n## diff\n")
    return {
        "PATH": os.environ["PATH"],
        "GH": str(gh),
        "GH_TOKEN": "t0ken",
        "REPO": "example/infrakit",
        "PR_NUMBER": "42",
        "BODY_FILE": str(body),
        "FAKE_LOG": str(tmp_path / "log"),
    }


def _run(env: dict[str, str], **extra: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, object]]]:
    result = subprocess.run(
        ["bash", str(SCRIPT)], env={**env, **extra}, capture_output=True, text=True, check=False, timeout=30
    )
    log = Path(env["FAKE_LOG"])
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def test_posts_when_there_is_no_comment_yet(env: dict[str, str]) -> None:
    others = json.dumps([{"id": 7, "body": "<!-- other -->\nhi"}])
    result, calls = _run(env, FAKE_COMMENTS=others)
    assert result.returncode == 0, result.stderr
    (call,) = calls
    assert call["args"][:4] == ["api", "--method", "POST", "repos/example/infrakit/issues/42/comments"]
    assert call["body"] == f"{MARKER}\n## diff\n"


def test_updates_its_own_comment(env: dict[str, str]) -> None:
    mine = json.dumps([{"id": 7, "body": "<!-- other -->"}, {"id": 9, "body": f"{MARKER}\nold"}])
    result, calls = _run(env, FAKE_COMMENTS=mine)
    assert result.returncode == 0, result.stderr
    (call,) = calls
    assert call["args"][:4] == ["api", "--method", "PATCH", "repos/example/infrakit/issues/comments/9"]
    assert "updated comment 9" in result.stdout


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("PR_NUMBER", "42; rm -rf /", "not a pull request number"),
        ("REPO", "../x", "not owner/name"),
        ("REPO", "example/..", "not owner/name"),
        ("GH_TOKEN", "", "GH_TOKEN is not set"),
        ("BODY_FILE", "/nonexistent", "does not exist"),
    ],
)
def test_bad_input_is_refused_before_any_call(env: dict[str, str], key: str, value: str, needle: str) -> None:
    result, calls = _run(env, **{key: value})
    assert result.returncode == 2 and needle in result.stderr and calls == []


def test_a_body_without_marker_or_too_big_is_refused(env: dict[str, str]) -> None:
    body = Path(env["BODY_FILE"])
    body.write_text("no marker\n")
    result, calls = _run(env)
    assert result.returncode == 2 and "marker" in result.stderr and calls == []
    body.write_text(MARKER + "\n" + "x" * 70_000)
    result, calls = _run(env)
    assert result.returncode == 2 and "65536" in result.stderr and calls == []


def test_a_failing_listing_fails_the_step(env: dict[str, str]) -> None:
    result, calls = _run(env, FAKE_LIST_RC="1")
    assert result.returncode == 1 and "listing the comments" in result.stderr and calls == []
