"""`infrakit apply STACK`: converge a host with its plan over plain SSH (no Pulumi needed)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from infrakit.config import load_stack
from infrakit.config.loader import Stack
from infrakit.config.models import ExistingTarget
from infrakit.plan import build_plan

if TYPE_CHECKING:
    from infrakit.apply.executor import ApplyReport
    from infrakit.apply.ssh import Target

# The executor and paramiko (~0.13 s to import) load only when `apply` runs, so that
# `infrakit render/plan/validate` do not pay for SSH.

BOOTSTRAP_STEPS = {"base_packages", "create_user"}


def parse_host(spec: str, default_user: str, default_port: int) -> tuple[str, str, int]:
    """`[user@]address[:port]` (IPv6 addresses without a port)."""
    user, _, rest = spec.rpartition("@")
    host, port = rest, ""
    if rest.count(":") == 1:
        host, _, port = rest.partition(":")
    return host, user or default_user, int(port) if port else default_port


def target_for(stack: Stack, args: argparse.Namespace) -> Target:
    from infrakit.apply.ssh import SshError, Target, resolve_identity  # noqa: PLC0415

    config = stack.config
    port = config.access.ssh_port
    if args.host:
        host, user, port = parse_host(args.host, config.ssh_user, port)
    elif isinstance(config.host, ExistingTarget):
        host, user = config.host.address, config.ssh_user
    else:
        raise SshError(f"stack '{stack.name}' is an hcloud stack: give the server address with --host")
    known = Path(args.known_hosts).expanduser() if args.known_hosts else Target(host, user).known_hosts
    return Target(host, user, port, resolve_identity(args.identity), known)


def secrets_from_environment(stack: Stack) -> dict[str, str]:
    values = {key: ref.from_environment() for key, ref in stack.secrets.items()}
    return {key: value for key, value in values.items() if value is not None}


def cmd_apply(args: argparse.Namespace) -> int:
    from infrakit.apply.executor import ApplyError, apply_plan, summary  # noqa: PLC0415
    from infrakit.apply.ssh import SshError, Target, probe_login, resolve_identity  # noqa: PLC0415

    stack = load_stack(args.stack)
    plan = build_plan(stack)
    secrets = secrets_from_environment(stack)
    only = set(args.only.split(",")) if args.only else None
    if only and (unknown := only - {p.step.name for p in plan.steps}):
        print(f"infrakit: unknown step(s) {sorted(unknown)} in --only", file=sys.stderr)
        return 2
    try:
        target = target_for(stack, args)
        if args.bootstrap_user and not probe_login(target):
            first = Target(target.host, args.bootstrap_user, target.port,
                           resolve_identity(args.bootstrap_identity) or target.identity, target.known_hosts)
            print(f"admin login refused: bootstrapping {target.user} as {first.user}@{first.host}")
            report = apply_plan(plan, first, secrets, only=BOOTSTRAP_STEPS)
            print(summary(report))
            if not report.ok:
                return 1
        report = apply_plan(plan, target, secrets, changed_only=args.changed_only, only=only,
                            step_timeout=args.step_timeout)
    except (SshError, ApplyError) as exc:
        print(f"infrakit: apply {stack.name}: {exc}", file=sys.stderr)
        return 1
    print(summary(report))
    _write_json(args.json, report)
    if report.ok:
        print(f"ok: {stack.name} converged. Log in: ssh{'' if target.port == 22 else f' -p {target.port}'} "
              f"{target.user}@{target.host}")
        return 0
    return 1


def _write_json(path: str | None, report: ApplyReport) -> None:
    if path:
        Path(path).write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("apply", help="converge a host with the stack's plan over plain SSH")
    p.add_argument("stack", metavar="STACK")
    p.add_argument("--host", help="[USER@]ADDRESS[:PORT]; default: the stack's existing host and admin user")
    p.add_argument("-i", "--identity", help="private key file (default: SSH agent and ~/.ssh keys)")
    p.add_argument("--known-hosts", help="known_hosts file (default ~/.ssh/known_hosts; unknown hosts are learned, "
                                         "changed keys refused)")
    p.add_argument("--bootstrap-user", help="if the admin login is refused, first create the admin user as this "
                                            "user (e.g. root on a fresh bare-metal server)")
    p.add_argument("--bootstrap-identity", help="private key for --bootstrap-user (default: --identity)")
    p.add_argument("--changed-only", action="store_true",
                   help="skip steps whose hash the host already applied (what `pulumi up` does)")
    p.add_argument("--only", help="comma-separated step names to run")
    p.add_argument("--step-timeout", type=float, default=3600.0, help="seconds a step may run (default 3600)")
    p.add_argument("--json", help="also write the report as JSON to this file")
    p.set_defaults(func=cmd_apply)


__all__ = ["add_parser"]
