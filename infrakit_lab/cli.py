"""``infrakit-lab``: boot, list and remove local Debian 12 test hosts.

    infrakit-lab up [--name NAME] [--keep] [--timeout S]
    infrakit-lab down [--name NAME | --all]
    infrakit-lab status
    infrakit-lab restart [--name NAME]
    infrakit-lab packages [--vm]
    infrakit-lab vm up [--name NAME] [--keep] [--timeout S] | vm down [--name NAME | --all] | vm status

A command of its own beside the product's `infrakit` (same `pip install`): the lab is a test
tool, and the product never imports it. Also ``python -m infrakit_lab``.
Exit codes: 0 ok, 1 lab error (one line on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from infrakit_lab import config, host
from infrakit_lab.errors import LabError
from infrakit_lab.host import LabHost
from infrakit_lab.packages import ensure_host_packages
from infrakit_lab.vm import DEFAULT_VM_NAME, VM_BOOT_TIMEOUT, LabVM, vm_down_all

Handler = Callable[[argparse.Namespace], int]


def _guarded(handler: Handler) -> Handler:
    """Expected failures become one line on stderr and exit code 1."""

    def run(args: argparse.Namespace) -> int:
        _setup_logging()
        try:
            return handler(args)
        except LabError as exc:
            print(f"infrakit-lab: error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("infrakit-lab: interrupted", file=sys.stderr)
            return 130

    return run


def _setup_logging() -> None:
    logger = logging.getLogger("infrakit_lab")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("infrakit-lab: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _cmd_up(args: argparse.Namespace) -> int:
    h = LabHost.up(args.name, keep=args.keep, boot_timeout=args.timeout)
    print(f"lab host {h.name} is up at {h.address} (pid {h.pid})", file=sys.stderr)
    print(h.ssh_command())
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    if args.all:
        removed = host.down_all()
        print(f"removed: {' '.join(removed)}" if removed else "no lab host was up")
    elif host.down(args.name):
        print(f"lab host {args.name} is down")
    else:
        print(f"lab host {args.name} is not up")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    hosts = LabHost.all()
    if not hosts:
        print("no lab hosts")
        return 0
    rows = [("NAME", "STATE", "PID", "ADDRESS", "SSH")]
    for h in hosts:
        running = h.is_running
        rows.append(
            (
                h.name,
                "running" if running else "stopped",
                str(h.pid) if running else "-",
                h.address,
                "yes" if running and h.ssh_reachable() else "no",
            )
        )
    _print_table(rows)
    return 0


def _cmd_restart(args: argparse.Namespace) -> int:
    h = LabHost.get(args.name)
    if h is None:
        raise LabError(f"lab host {args.name} is not up: use `up`")
    h.restart(boot_timeout=args.timeout)
    print(h.ssh_command())
    return 0


def _cmd_packages(args: argparse.Namespace) -> int:
    changed = ensure_host_packages(vm=args.vm)
    print("installed the lab's host packages" if changed else "host packages present")
    return 0


def _name_arg(parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup) -> None:
    parser.add_argument(
        "--name",
        default=config.DEFAULT_NAME,
        help=f"host name, 1-{config.MAX_NAME_LEN} chars [a-z0-9-] (default: %(default)s)",
    )


def _timeout_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=host.BOOT_TIMEOUT,
        help="seconds to wait for sshd after boot (default: %(default)g)",
    )


def build_parser() -> argparse.ArgumentParser:
    """``infrakit-lab`` with its sub-commands; each sets ``func`` on the namespace."""
    parser = argparse.ArgumentParser(
        prog="infrakit-lab",
        description=(
            "Boot Debian 12 hosts with systemd-nspawn for tests. State: "
            "$INFRAKIT_LAB_STATE (default /var/lib/infrakit/lab); rootfs cache: "
            "$INFRAKIT_LAB_CACHE (default /var/cache/infrakit/lab). Needs root."
        ),
    )
    sub = parser.add_subparsers(dest="lab_command", metavar="COMMAND", required=True)

    up = sub.add_parser("up", help="boot a host and print its SSH command")
    _name_arg(up)
    up.add_argument(
        "--keep",
        action="store_true",
        help="boot an existing stopped host again, keeping its changes",
    )
    _timeout_arg(up)
    up.set_defaults(func=_guarded(_cmd_up))

    down = sub.add_parser("down", help="stop a host and remove everything it made")
    which = down.add_mutually_exclusive_group()
    _name_arg(which)
    which.add_argument("--all", action="store_true", help="every lab host")
    down.set_defaults(func=_guarded(_cmd_down))

    status = sub.add_parser("status", help="list hosts: state, PID, address, SSH")
    status.set_defaults(func=_guarded(_cmd_status))

    restart = sub.add_parser("restart", help="stop and boot a host, keeping its overlay")
    _name_arg(restart)
    _timeout_arg(restart)
    restart.set_defaults(func=_guarded(_cmd_restart))

    _add_vm_parser(sub)

    packages = sub.add_parser("packages", help="apt-install the host packages the lab needs")
    packages.add_argument("--vm", action="store_true", help="also the VM lane's packages")
    packages.set_defaults(func=_guarded(_cmd_packages))
    return parser


def _cmd_vm_up(args: argparse.Namespace) -> int:
    vm = LabVM.up(args.name, keep=args.keep, boot_timeout=args.timeout)
    print(f"lab VM {vm.name} is up, ssh on 127.0.0.1:{vm.ssh_port} (pid {vm.pid})", file=sys.stderr)
    print(vm.ssh_command())
    return 0


def _cmd_vm_down(args: argparse.Namespace) -> int:
    if args.all:
        removed = vm_down_all()
        print(f"removed: {' '.join(removed)}" if removed else "no lab VM was up")
        return 0
    vm = LabVM.get(args.name)
    if vm is None:
        print(f"lab VM {args.name} is not up")
    else:
        vm.down()
        print(f"lab VM {args.name} is down")
    return 0


def _cmd_vm_status(args: argparse.Namespace) -> int:
    vms = LabVM.all()
    if not vms:
        print("no lab VMs")
        return 0
    rows = [("NAME", "STATE", "PID", "SSH PORT", "SSH")]
    for vm in vms:
        running = vm.is_running
        rows.append(
            (
                vm.name,
                "running" if running else "stopped",
                str(vm.pid) if running else "-",
                str(vm.ssh_port),
                "yes" if running and vm.ssh_reachable() else "no",
            )
        )
    _print_table(rows)
    return 0


def _add_vm_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    vm = sub.add_parser(
        "vm",
        help="qemu VMs (own kernel, slow) for vm.*/kernel.* sysctls and reboots",
        description="The VM lane: the lab rootfs with a Debian kernel under qemu (TCG).",
    )
    vm_sub = vm.add_subparsers(dest="vm_command", metavar="COMMAND", required=True)
    up = vm_sub.add_parser("up", help="boot a VM and print its SSH command")
    up.add_argument("--name", default=DEFAULT_VM_NAME, help="VM name (default: %(default)s)")
    up.add_argument("--keep", action="store_true", help="boot an existing stopped VM again")
    up.add_argument("--timeout", type=float, default=VM_BOOT_TIMEOUT, help="seconds to wait for sshd")
    up.set_defaults(func=_guarded(_cmd_vm_up))
    down = vm_sub.add_parser("down", help="kill a VM and delete its disk overlay")
    which = down.add_mutually_exclusive_group()
    which.add_argument("--name", default=DEFAULT_VM_NAME, help="VM name (default: %(default)s)")
    which.add_argument("--all", action="store_true", help="every lab VM")
    down.set_defaults(func=_guarded(_cmd_vm_down))
    status = vm_sub.add_parser("status", help="list VMs")
    status.set_defaults(func=_guarded(_cmd_vm_status))


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Handler = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
