"""`infrakit preview-comment`: the render diff of every stack between two commits.

    infrakit preview-comment --base origin/main --head HEAD --out comment.md --affected affected.json

Renders each stack at both commits (each with its own code), writes the Markdown comment, and
optionally the JSON list of affected stacks (render changed, stack file changed, added, failed),
which the pull-request workflow uses as its preview matrix. Exit 0, or 1 when a stack fails to
render at the head (the comment says which and why), 2 on a bad revision or repository.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from infrakit.review import snapshot
from infrakit.review.comment import MAX_CHARS, render_comment
from infrakit.review.diff import StackDiff, compare
from infrakit.review.render import list_stacks, render_all, secure_values, stacks_dir


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("preview-comment", help="render every stack at two commits and write the PR comment")
    p.add_argument("--base", required=True, help="the base commit (e.g. origin/main or a sha)")
    p.add_argument("--head", default="HEAD", help="the head commit (default HEAD)")
    p.add_argument("--repo", default=".", help="the git repository (default: the current directory)")
    p.add_argument("--stack", action="append", dest="stacks", metavar="STACK", help="only these stacks")
    p.add_argument("--out", help="write the comment here (default: stdout)")
    p.add_argument("--affected", metavar="FILE", help="write the affected stacks here as a JSON list")
    p.add_argument("--max-chars", type=int, default=MAX_CHARS, help=f"comment size limit (default {MAX_CHARS})")
    p.set_defaults(func=cmd_preview_comment)


def preview(repo: Path, base: str, head: str, stacks: list[str] | None = None) -> tuple[list[StackDiff], set[str]]:
    """Every stack's diff between base and head, and the secret values to keep out of the comment."""
    with tempfile.TemporaryDirectory(prefix="infrakit-preview-") as tmp:
        root = Path(tmp)
        base_tree = snapshot.export(repo, base, root / "base")
        head_tree = snapshot.export(repo, head, root / "head")
        names = stacks or sorted(set(list_stacks(base_tree)) | set(list_stacks(head_tree)))
        old = render_all(base_tree, root / "out-base", names)
        new = render_all(head_tree, root / "out-head", names)
        diffs = [compare(old.get(n), new.get(n)) for n in names if n in old or n in new]
        touched = {str(p) for p in snapshot.changed_paths(repo, base, head)}
        for d in diffs:
            for tree in (base_tree, head_tree):
                rel = (stacks_dir(tree) / f"Pulumi.{d.stack}.yaml").relative_to(tree).as_posix()
                if rel in touched and d.status == "unchanged":
                    d.status = "changed"  # only comments or the stack file's layout changed: still review it
        secrets = secure_values(base_tree) | secure_values(head_tree)
    secrets |= {v for k, v in os.environ.items() if k.startswith("INFRAKIT_SECRET_") and v}
    return diffs, secrets


def cmd_preview_comment(args: argparse.Namespace) -> int:
    repo = Path(args.repo).resolve()
    try:
        base = snapshot.resolve(repo, args.base)
        head = snapshot.resolve(repo, args.head)
        diffs, secrets = preview(repo, base, head, args.stacks)
    except snapshot.SnapshotError as exc:
        print(f"infrakit preview-comment: {exc}", file=sys.stderr)
        return 2
    text = render_comment(diffs, base, head, secrets, args.max_chars)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if args.affected:
        Path(args.affected).write_text(json.dumps([d.stack for d in diffs if d.affected]) + "\n", encoding="utf-8")
    for d in diffs:
        print(
            f"{d.stack}: {d.status} ({len(d.steps_replaced)} steps replaced, "
            f"{len(d.files_added) + len(d.files_removed) + len(d.files_changed)} files)",
            file=sys.stderr,
        )
    head_failed = [d.stack for d in diffs if any(e.startswith("render at head") for e in d.errors)]
    return 1 if head_failed else 0
