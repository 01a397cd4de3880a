"""`infrakit status|logs|ssh STACK`: day-2 commands on the stack's host, as its admin user.

Each takes the address from the stack (an existing host), or for an hcloud stack from its
Pulumi outputs (scripts/pulumi), or from --host; the user and port from the stack; the key
from -i (else the SSH agent and ~/.ssh); host keys from --known-hosts (default
~/.ssh/known_hosts, where `infrakit apply` records them).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from infrakit.config.loader import Stack
from infrakit.config.overrides import load_stack_with
from infrakit.day2.address import AddressError, Login, has_pinned_key, login_for
from infrakit.plan import build_plan

if TYPE_CHECKING:
    from infrakit.apply.ssh import Connection

Handler = Callable[[argparse.Namespace], int]
JOURNAL_LINES = 200


def _login(args: argparse.Namespace) -> tuple[Stack, Login]:
    stack = load_stack_with(args.stack, args.chains, host=args.host)
    return stack, login_for(stack, host=args.host, identity=args.identity, known_hosts=args.known_hosts)


def _connect(login: Login) -> Connection:
    from infrakit.apply.ssh import Connection, Target  # noqa: PLC0415 - paramiko only when a command connects

    return Connection(Target(login.host, login.user, login.port, login.identity, login.known_hosts))


def cmd_status(args: argparse.Namespace) -> int:
    from rich.console import Console  # noqa: PLC0415

    from infrakit.apply.ssh import SshError  # noqa: PLC0415
    from infrakit.day2 import status  # noqa: PLC0415

    stack, login = _login(args)
    mon = stack.config.monitoring
    if not mon.enabled:
        print(
            f"infrakit: status {stack.name}: monitoring is off in this stack: no status server to ask", file=sys.stderr
        )
        return status.EXIT_UNKNOWN
    url = status.status_url(mon.status_listen, mon.status_port)
    body: list[str] = []
    try:
        with _connect(login) as conn:
            result = conn.run(
                status.fetch_command(url),
                on_line=lambda stream, line: body.append(line) if stream == "stdout" else None,
                timeout=60,
            )
        doc = status.parse(result.exit_code, "\n".join(body), url)
    except (SshError, status.StatusUnavailableError) as exc:
        print(f"infrakit: status {stack.name}: {exc}", file=sys.stderr)
        return status.EXIT_UNKNOWN
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True))
        return status.exit_code(doc)
    return status.show(doc, Console(highlight=False))


def journal_command(units: list[str], *, lines: int, follow: bool) -> str:
    argv = ["journalctl", "--no-pager", "-o", "short-iso", "-n", str(lines)]
    for unit in units:
        argv += ["-u", unit]
    if follow:
        argv.append("-f")
    return "sudo -n " + shlex.join(argv)


def stack_units(stack: Stack, service: str | None) -> list[str]:
    services = build_plan(stack).services
    if service is None:
        return [s.unit for s in services]
    for s in services:
        if service in {s.name, s.unit, s.unit.removesuffix(".service")}:
            return [s.unit]
    known = ", ".join(f"{s.name} ({s.unit})" for s in services) or "none"
    raise AddressError(f"stack '{stack.name}' has no service {service!r} (its services: {known})")


def cmd_logs(args: argparse.Namespace) -> int:
    from infrakit.apply.ssh import SshError  # noqa: PLC0415

    stack, login = _login(args)
    units = stack_units(stack, args.service)
    if not units:
        print(f"infrakit: logs {stack.name}: the stack runs no services", file=sys.stderr)
        return 1
    command = journal_command(units, lines=args.lines, follow=args.follow)
    if login.user == "root":
        command = command.removeprefix("sudo -n ")

    def show(stream: str, line: str) -> None:
        print(line, file=sys.stdout if stream == "stdout" else sys.stderr, flush=True)

    try:
        with _connect(login) as conn:
            result = conn.run(command, on_line=show, timeout=float("inf") if args.follow else 120)
    except SshError as exc:
        print(f"infrakit: logs {stack.name}: {exc}", file=sys.stderr)
        return 1
    return 0 if result.exit_code == 0 else 1


def ssh_argv(login: Login, command: list[str]) -> list[str]:
    argv = [
        "ssh",
        "-p",
        str(login.port),
        "-o",
        f"UserKnownHostsFile={login.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
    ]
    if login.identity:
        argv += ["-i", str(login.identity), "-o", "IdentitiesOnly=yes"]
    argv.append(f"{login.user}@{login.host}")
    return [*argv, *(["--", *command] if command else [])]


def cmd_ssh(args: argparse.Namespace) -> int:
    stack, login = _login(args)
    if not has_pinned_key(login):
        print(
            f"infrakit: ssh {stack.name}: no host key for {login.host} in {login.known_hosts}: `infrakit apply "
            f"{stack.name}` records it on its first connection (or pass --known-hosts FILE)",
            file=sys.stderr,
        )
        return 1
    argv = ssh_argv(login, list(getattr(args, "remote_command", [])))
    if args.print:
        print(shlex.join(argv))
        return 0
    sys.stdout.flush()
    os.execvp(argv[0], argv)  # noqa: S606 - replaces this process with the OpenSSH client, by design


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("stack", metavar="STACK")
    p.add_argument(
        "--host", help="[USER@]ADDRESS[:PORT]; default: the stack's address (an hcloud stack's from its Pulumi outputs)"
    )
    p.add_argument("-i", "--identity", help="private key file (default: SSH agent and ~/.ssh keys)")
    p.add_argument("--known-hosts", help="known_hosts file with the host's pinned key (default ~/.ssh/known_hosts)")


def _guarded(handler: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except AddressError as exc:
            print(f"infrakit: {args.command} {args.stack}: {exc}", file=sys.stderr)
            return 2

    return run


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "status", help="the host's health from its status server, as tables (exit 0 healthy, 1 unhealthy, 3 unknown)"
    )
    _common(p)
    p.add_argument("--json", action="store_true", help="print the status server's JSON instead of tables")
    p.set_defaults(func=_guarded(cmd_status))

    p = sub.add_parser(
        "logs", help="the journal of the stack's services on its host", usage="infrakit logs STACK [SERVICE] [options]"
    )
    _common(p)
    p.add_argument("service", nargs="?", metavar="SERVICE", help="one service (name or unit); default: all of them")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines (Ctrl-C stops)")
    p.add_argument("-n", "--lines", type=int, default=JOURNAL_LINES, help="lines of history (default %(default)s)")
    p.set_defaults(func=_guarded(cmd_logs))

    p = sub.add_parser(
        "ssh",
        help="log in to the stack's host as its admin user (pinned host key)",
        usage="infrakit ssh STACK [options] [-- COMMAND...]",
        epilog="After --, a command to run on the host instead of a login shell.",
    )
    _common(p)
    p.add_argument("--print", action="store_true", help="print the ssh command instead of running it")
    p.set_defaults(func=_guarded(cmd_ssh))
