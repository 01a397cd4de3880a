"""`infrakit preview-comment`: the render diff of every stack between two commits.

    infrakit preview-comment --base origin/main --head HEAD --out comment.md --affected affected.json

Renders each stack at both commits (each with its own code), writes the Markdown comment, and
optionally the JSON list of affected stacks (render changed, stack file changed, added, failed,
or the Pulumi program itself changed), which the pull-request workflow uses as its preview
matrix, and the deploy groups (affected stacks present at the head, split by role: roles that
hold keys need a manual approval). Exit 0, or 1 when a stack fails to render at the head (the
comment says which and why), 2 on a bad revision or repository.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from infrakit.chain import Registry
from infrakit.review import snapshot
from infrakit.review.comment import MAX_CHARS, render_comment
from infrakit.review.diff import StackDiff, compare
from infrakit.review.engine import agreement, engine_preview
from infrakit.review.render import list_stacks, render_all, secure_values, stack_chain_role, stacks_dir

# Paths whose change alters what the Pulumi program does for every stack, beyond the render:
# resources, their options, outputs, the engine, the policy pack.
PROGRAM_PATHS = (
    "__main__.py",
    "Pulumi.yaml",
    "requirements.txt",
    "components/",
    "policy/",
    "infrakit/engine/",
    "infrakit/policy_facts.py",
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("preview-comment", help="render every stack at two commits and write the PR comment")
    p.add_argument("--base", required=True, help="the base commit (e.g. origin/main or a sha)")
    p.add_argument("--head", default="HEAD", help="the head commit (default HEAD)")
    p.add_argument("--repo", default=".", help="the git repository (default: the current directory)")
    p.add_argument("--stack", action="append", dest="stacks", metavar="STACK", help="only these stacks")
    p.add_argument("--out", help="write the comment here (default: stdout)")
    p.add_argument("--affected", metavar="FILE", help="write the affected stacks here as a JSON list")
    p.add_argument(
        "--deploy-groups",
        metavar="FILE",
        help='write {"auto": [...], "approval": [...]} here: affected stacks at the head by role',
    )
    p.add_argument(
        "--engine-preview",
        action="store_true",
        help="also run scripts/pulumi preview for each affected stack in the checkout (--head must be "
        "what is checked out) and say whether the engine re-runs the steps the render names",
    )
    p.add_argument("--max-chars", type=int, default=MAX_CHARS, help=f"comment size limit (default {MAX_CHARS})")
    p.set_defaults(func=cmd_preview_comment)


def preview(
    repo: Path, base: str, head: str, stacks: list[str] | None = None
) -> tuple[list[StackDiff], set[str], dict[str, tuple[str, str]]]:
    """Every stack's diff between base and head, the secret values to keep out of the comment,
    and each head stack's role."""
    with tempfile.TemporaryDirectory(prefix="infrakit-preview-") as tmp:
        root = Path(tmp)
        base_tree = snapshot.export(repo, base, root / "base")
        head_tree = snapshot.export(repo, head, root / "head")
        names = stacks or sorted(set(list_stacks(base_tree)) | set(list_stacks(head_tree)))
        old = render_all(base_tree, root / "out-base", names)
        new = render_all(head_tree, root / "out-head", names)
        diffs = [compare(old.get(n), new.get(n)) for n in names if n in old or n in new]
        touched = {str(p) for p in snapshot.changed_paths(repo, base, head)}
        program = sorted(p for p in touched if p.startswith(PROGRAM_PATHS))
        for d in diffs:
            if program and d.status == "unchanged":
                d.status = "program changed"
                d.notes.append(
                    "the Pulumi program changed (" + ", ".join(program[:5]) + "): the engine's preview "
                    "shows what it does to this stack's resources; the render is the same"
                )
            for tree in (base_tree, head_tree):
                rel = (stacks_dir(tree) / f"Pulumi.{d.stack}.yaml").relative_to(tree).as_posix()
                if rel in touched and d.status == "unchanged":
                    d.status = "changed"  # only comments or the stack file's layout changed: still review it
        secrets = secure_values(base_tree) | secure_values(head_tree)
        roles = {name: stack_chain_role(head_tree, name) for name in list_stacks(head_tree)}
    secrets |= {v for k, v in os.environ.items() if k.startswith("INFRAKIT_SECRET_") and v}
    return diffs, secrets, roles


def deploy_groups(diffs: list[StackDiff], roles: dict[str, tuple[str, str]], chains: Registry) -> dict[str, list[str]]:
    """Affected stacks that exist at the head: roles that hold keys (the chain's adapter says
    so, as for host protection) go behind the manual approval, the others deploy on merge. A
    chain or role this code does not know (e.g. added by the change) needs the approval too."""
    present = [d.stack for d in diffs if d.affected and d.stack in roles]
    approval = [s for s in present if _holds_keys(chains, *roles[s])]
    return {"auto": [s for s in present if s not in approval], "approval": approval}


def _holds_keys(chains: Registry, chain: str, role: str) -> bool:
    try:
        return chains.get(chain).role(role).holds_keys
    except KeyError:
        return True  # unknown: the safe side


def add_engine_previews(repo: Path, diffs: list[StackDiff], present: set[str]) -> None:
    for d in diffs:
        if not d.affected or d.stack not in present:
            continue
        found = engine_preview(repo, d.stack)
        if found.error:
            d.engine.append(f":x: {found.error}")
        ops = sorted(f"{name} ({op})" for name, op in found.changes.items())
        d.engine.append(f"{len(ops)} resources change: " + (", ".join(f"`{o}`" for o in ops) or "none"))
        files = bool(d.files_added or d.files_removed or d.files_changed)
        d.engine.append(agreement({s.name for s in d.steps_replaced}, files, found))


def cmd_preview_comment(args: argparse.Namespace) -> int:
    repo = Path(args.repo).resolve()
    try:
        base = snapshot.resolve(repo, args.base)
        head = snapshot.resolve(repo, args.head)
        diffs, secrets, roles = preview(repo, base, head, args.stacks)
    except snapshot.SnapshotError as exc:
        print(f"infrakit preview-comment: {exc}", file=sys.stderr)
        return 2
    if args.engine_preview:
        add_engine_previews(repo, diffs, set(roles))
    text = render_comment(diffs, base, head, secrets, args.max_chars)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if args.affected:
        present = [d.stack for d in diffs if d.affected and d.stack in roles]  # a removed stack has no preview
        Path(args.affected).write_text(json.dumps(present) + "\n", encoding="utf-8")
    if args.deploy_groups:
        Path(args.deploy_groups).write_text(
            json.dumps(deploy_groups(diffs, roles, args.chains)) + "\n", encoding="utf-8"
        )
    for d in diffs:
        print(
            f"{d.stack}: {d.status} ({len(d.steps_replaced)} steps replaced, "
            f"{len(d.files_added) + len(d.files_removed) + len(d.files_changed)} files)",
            file=sys.stderr,
        )
    head_failed = [d.stack for d in diffs if any(e.startswith("render at head") for e in d.errors)]
    return 1 if head_failed else 0
