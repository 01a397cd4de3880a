"""`infrakit` command line: validate, render, plan (offline), apply (plain SSH), lock, preview-comment.

The lab's test hosts have their own command, `infrakit-lab` (package infrakit_lab).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from infrakit.apply.cli import add_parser as add_apply
from infrakit.artifacts.cli import add_parser as add_lock
from infrakit.chain import Registry
from infrakit.config import ConfigError, list_stacks, load_stack
from infrakit.day2.cli import add_parsers as add_day2
from infrakit.plan import HostPlan, build_plan
from infrakit.plan.bundle import bundle_entries, sha256, tarball, write_tree
from infrakit.project import ProjectError, current, use_project
from infrakit.render_dir import RenderDirError, mark_render, prepare_out_dir
from infrakit.review.cli import add_parser as add_preview_comment

Handler = Callable[[argparse.Namespace], int]
# Commands that work on InfraKit's own files, not on a project's stacks.
NO_PROJECT_COMMANDS = {"lock", "preview-comment"}


def cmd_validate(args: argparse.Namespace) -> int:
    stacks = args.stacks or list_stacks()
    failed = 0
    for name in stacks:
        try:
            stack = load_stack(name, args.chains)
            plan = build_plan(stack)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            failed += 1
            continue
        warn_blockers(plan)
        secrets = ", ".join(stack.secrets) or f"none (may set: {', '.join(stack.secret_keys)})"
        print(f"ok   {name}: chain={plan.chain} role={plan.role} network={plan.network} "
              f"steps={len(plan.steps)} secrets set: {secrets}")
    print(f"{len(stacks) - failed} valid, {failed} invalid")
    return 1 if failed else 0


def warn_blockers(plan: HostPlan) -> None:
    for line in (*plan.blockers, *plan.warnings):
        print(f"WARNING: {line}", file=sys.stderr)


def cmd_render(args: argparse.Namespace) -> int:
    plan = build_plan(load_stack(args.stack, args.chains))
    warn_blockers(plan)
    project = current()
    out = Path(args.out) if args.out else project.out_dir / args.stack
    prepare_out_dir(out, force=args.force, project_root=project.root)
    entries = bundle_entries(plan)
    write_tree(entries, out)
    mark_render(out, plan.stack, plan.plan_hash)
    print(f"rendered {args.stack}: {len(plan.steps)} steps, {len(entries)} files -> {out}/")
    print(f"plan {plan.plan_hash[:16]}  bundle {sha256(tarball(entries))[:16]}  (review {out}/plan.json)")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    plan = build_plan(load_stack(args.stack, args.chains))
    warn_blockers(plan)
    print(f"stack {plan.stack}: chain={plan.chain} role={plan.role} network={plan.network} plan={plan.plan_hash[:16]}")
    print(f"\n{'#':>2}  {'step':<22} {'hash':<12}  {'script':<44} secrets  description")
    for planned in plan.steps:
        step = planned.step
        secret = ",".join(step.secrets.values()) or "-"
        print(f"{planned.index + 1:>2}  {step.name:<22} {planned.hash[:12]}  {step.script:<44} {secret:<8} "
              f"{step.description}")
    print(f"\ninbound: {plan.ssh_port}/tcp ssh from {', '.join(plan.admin_cidrs)}")
    for port in plan.ports:
        where = "anywhere" if port.exposure == "public" else "localhost/private only"
        print(f"         {port.port}/{port.protocol} {port.purpose} ({where})")
    if plan.services:
        print("services: " + ", ".join(s.unit for s in plan.services))
    print("checks:   " + ", ".join(f"{c.name}({c.kind})" for c in plan.health_checks))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infrakit", description=__doc__)
    parser.add_argument("--project", metavar="DIR",
                        help="the project (a folder with Pulumi.yaml and its stacks); default: the nearest "
                             "Pulumi.yaml from the current directory upward, or $INFRAKIT_PROJECT")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check stack files; every problem names stack and key")
    p.add_argument("stacks", nargs="*", metavar="STACK", help="default: every stack in stacks/")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("render", help="write the exact scripts, params, files and plan.json a host runs")
    p.add_argument("stack", metavar="STACK")
    p.add_argument("--out", help="output directory (default PROJECT/out/STACK); an existing one is replaced only "
                                 "if it is a previous render")
    p.add_argument("--force", action="store_true", help="replace --out even if it is not a previous render")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("plan", help="a readable table of steps, hashes and ports")
    p.add_argument("stack", metavar="STACK")
    p.set_defaults(func=cmd_plan)

    _optional_commands(sub)
    return parser


def _optional_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_apply(sub)
    add_day2(sub)
    add_lock(sub)
    add_preview_comment(sub)


def main(argv: Sequence[str] | None = None, *, chains: Registry) -> int:
    """The command line; `chains` are the registered chain adapters (the console script,
    `adapters/registry.py:main`, passes them: core never imports adapters/)."""
    words = list(sys.argv[1:] if argv is None else argv)
    remote: list[str] = []
    if "--" in words:  # `infrakit ssh STACK -- COMMAND...`: argparse mishandles -- after a subcommand
        cut = words.index("--")
        words, remote = words[:cut], words[cut + 1:]
    parser = build_parser()
    args = parser.parse_args(words)
    if remote and args.command != "ssh":
        parser.error("`-- COMMAND` is only for `infrakit ssh`")
    args.remote_command = remote
    args.chains = chains
    handler: Handler = args.func
    try:
        if args.command not in NO_PROJECT_COMMANDS:
            use_project(Path(args.project) if args.project else None)
        return handler(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (ProjectError, RenderDirError) as exc:
        print(f"infrakit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("infrakit: interrupted", file=sys.stderr)
        return 130
