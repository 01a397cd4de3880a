"""`infrakit apply STACK`: converge a host with its plan over plain SSH (no Pulumi needed)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infrakit.apply.run import ConnectionRecord, Phase, RunReport
from infrakit.config.loader import Stack
from infrakit.config.models import ExistingTarget
from infrakit.config.overrides import load_stack_with
from infrakit.plan import HostPlan, build_plan
from infrakit.project import current

if TYPE_CHECKING:
    from rich.table import Table

    from infrakit.apply.executor import ApplyReport
    from infrakit.apply.progress import Presenter
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
    from infrakit.apply.ssh import SshError, Target, resolve_identity, ssh_answers  # noqa: PLC0415

    config = stack.config
    port = config.access.ssh_port
    if args.host:
        host, user, port = parse_host(args.host, config.ssh_user, port)
    elif isinstance(config.host, ExistingTarget):
        host, user = config.host.address, config.ssh_user
    else:
        raise SshError(f"stack '{stack.name}' is an hcloud stack: give the server address with --host")
    previous = config.access.previous_ssh_port
    if previous and port == config.access.ssh_port and not ssh_answers(host, port):
        port = previous  # a port migration, phase 1: the new port does not answer yet
    known = Path(args.known_hosts).expanduser() if args.known_hosts else Target(host, user).known_hosts
    return Target(host, user, port, resolve_identity(args.identity), known)


def secrets_from_environment(stack: Stack) -> dict[str, str]:
    values = {key: ref.from_environment() for key, ref in stack.secrets.items()}
    return {key: value for key, value in values.items() if value is not None}


def login_command(target: Target) -> str:
    """The one `ssh` command that logs in as the converged host's admin user."""
    from infrakit.apply.ssh import Target  # noqa: PLC0415

    parts = ["ssh"]
    if target.port != 22:
        parts += ["-p", str(target.port)]
    if target.identity:
        parts += ["-i", shlex.quote(str(target.identity))]
    if target.known_hosts != Target(target.host, target.user).known_hosts:
        parts += ["-o", shlex.quote(f"UserKnownHostsFile={target.known_hosts}")]
    parts += ["-o", "StrictHostKeyChecking=yes", f"{target.user}@{target.host}"]
    return " ".join(parts)


def cmd_apply(args: argparse.Namespace) -> int:
    from rich.console import Console  # noqa: PLC0415

    from infrakit.apply.progress import Presenter, new_log_path, open_log  # noqa: PLC0415

    stack = load_stack_with(args.stack, args.chains, host=args.host, admin_cidrs=args.admin_cidr)
    plan = build_plan(stack)
    secrets = secrets_from_environment(stack)
    only = set(args.only.split(",")) if args.only else None
    if only and (unknown := only - {p.step.name for p in plan.steps}):
        print(f"infrakit: unknown step(s) {sorted(unknown)} in --only", file=sys.stderr)
        return 2
    log_path = Path(args.log) if args.log else new_log_path(current().state_dir / "logs", stack.name)
    run = RunReport(stack.name, str(log_path))
    start = time.monotonic()
    with open_log(log_path) as log, Presenter(Console(highlight=False), log, verbose=args.verbose) as view:
        view.note(f"apply {stack.name}: {len(plan.steps)} steps, full log: {log_path}")
        try:
            target = _converge(args, stack, plan, secrets, only, run, view)
        except _RunEndedError:
            target = None
        run.total_seconds = time.monotonic() - start
        _write_json(args.json, run)
        if args.verbose:
            view.console.print(summary_table(run))
        view.note(run.summary_line())
        if run.ok and target is not None:
            view.note(f"log in: {login_command(target)}")
    return 0 if run.ok else 1


class _RunEndedError(Exception):
    """The run ended early; the RunReport says why."""


def _converge(args: argparse.Namespace, stack: Stack, plan: HostPlan, secrets: dict[str, str], only: set[str] | None,
              run: RunReport, view: Presenter) -> Target:
    from infrakit.apply.ssh import SshError, Target, resolve_identity  # noqa: PLC0415

    try:
        target = target_for(stack, args)
        if args.bootstrap_user and not _probe(run, target):
            first = Target(target.host, args.bootstrap_user, target.port,
                           resolve_identity(args.bootstrap_identity) or target.identity, target.known_hosts)
            view.note(f"admin login {target.user}@{target.host} refused: bootstrapping it as {first.user}")
            if not _phase(run, view, "bootstrap", plan, first, secrets, only=BOOTSTRAP_STEPS).ok:
                raise _RunEndedError
        view.note(f"converge as {target.user}@{target.host}:{target.port}")
        _phase(run, view, "converge", plan, target, secrets, only=only, changed_only=args.changed_only,
               step_timeout=args.step_timeout)
    except SshError as exc:
        run.error = str(exc)
        view.show_tail()
        raise _RunEndedError from None
    return target


def _probe(run: RunReport, target: Target) -> bool:
    from infrakit.apply.ssh import SshError, probe_login  # noqa: PLC0415

    where = f"{target.user}@{target.host}:{target.port}"
    try:
        accepted = probe_login(target)
    except SshError as exc:
        run.connections.append(ConnectionRecord("probe", where, "error", str(exc)))
        raise
    run.connections.append(ConnectionRecord("probe", where, "ok" if accepted else "refused"))
    return accepted


def _phase(run: RunReport, view: Presenter, name: str, plan: HostPlan, target: Target, secrets: dict[str, str],
           **options: Any) -> ApplyReport:
    """One apply_plan call (one connection), recorded in `run`; a refusal ends the run."""
    from infrakit.apply.executor import ApplyError, apply_plan  # noqa: PLC0415
    from infrakit.apply.ssh import SshError  # noqa: PLC0415

    where = f"{target.user}@{target.host}:{target.port}"
    view.section(f"{name}: connect and install the bundle")
    try:
        report = apply_plan(plan, target, secrets, say=view.say, events=view, **options)
    except ApplyError as exc:
        run.error = f"{name}: {exc}"
        view.show_tail()
        raise _RunEndedError from None
    except SshError as exc:
        run.connections.append(ConnectionRecord(name, where, "error", str(exc)))
        raise
    run.phases.append(Phase(name, report))
    run.connections.append(ConnectionRecord(name, where, "ok", "", report.ssh_sessions, report.bytes_uploaded))
    return report


def summary_table(run: RunReport) -> Table:
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"{run.stack}: one row per step, all phases", title_justify="left")
    for column in ("step", "result", "changed", "seconds", "phases"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    for s in run.steps():
        changed = "-" if s.changed is None else ("yes" if s.changed else "no")
        table.add_row(s.name, s.status, changed, f"{s.seconds:.2f}", "+".join(s.phases) or "-")
    return table


def _write_json(path: str | None, run: RunReport) -> None:
    if path:
        Path(path).write_text(json.dumps(run.as_dict(), indent=2) + "\n", encoding="utf-8")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("apply", help="converge a host with the stack's plan over plain SSH")
    p.add_argument("stack", metavar="STACK")
    p.add_argument("--host", help="[USER@]ADDRESS[:PORT]; default: the stack's existing host and admin user. For an "
                                  "existing host, the plan is built for this address (no need to edit the stack)")
    p.add_argument("--admin-cidr", action="append", metavar="CIDR",
                   help="replace the stack's access.adminCidrs (repeatable), e.g. the address you apply from")
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
    p.add_argument("--json", help="also write the report of the whole run (every phase and connection) to this file")
    p.add_argument("-v", "--verbose", action="store_true", help="stream every line the host prints (default: one "
                                                                "line per step; everything goes to the log file)")
    p.add_argument("--log", help="the log file (default PROJECT/.infrakit/logs/apply-STACK-TIME.log)")
    p.set_defaults(func=cmd_apply)


__all__ = ["add_parser"]
