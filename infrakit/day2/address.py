"""Where a stack's host is, and how to log in to it (user, port, key, pinned host key).

An `existing` host's address is in the stack file; an `hcloud` server's is a Pulumi output,
read with the project's engine wrapper `scripts/pulumi stack output --json -s STACK` when
it is there. `--host` overrides either.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infrakit.config.loader import Stack
from infrakit.config.models import ExistingTarget
from infrakit.config.overrides import host_address
from infrakit.plan.sources import PROJECT_ROOT
from infrakit.project import current

PULUMI_WRAPPER = Path("scripts") / "pulumi"
OUTPUT_TIMEOUT = 120.0


class AddressError(Exception):
    """The host of a stack cannot be found; the message says why and what to pass instead."""


@dataclass(frozen=True)
class Login:
    host: str
    user: str
    port: int
    identity: Path | None
    known_hosts: Path


def pulumi_wrappers() -> list[Path]:
    """Where the engine wrapper may be: the project's, then InfraKit's own checkout's."""
    places = [current().root / PULUMI_WRAPPER, PROJECT_ROOT / PULUMI_WRAPPER]
    return list(dict.fromkeys(places))


def address_from_outputs(stack: str) -> str:
    wrapper = next((w for w in pulumi_wrappers() if w.is_file()), None)
    if wrapper is None:
        looked = ", ".join(str(w) for w in pulumi_wrappers())
        raise AddressError(
            f"stack '{stack}' is an hcloud stack: its address is a Pulumi output, and the Pulumi "
            f"engine wrapper is not installed here (no {looked}); give the address with --host ADDRESS"
        )
    argv = [str(wrapper), "stack", "output", "--json", "-s", stack]
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=OUTPUT_TIMEOUT, cwd=current().root, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AddressError(f"stack '{stack}': `{' '.join(argv)}` failed: {exc}") from None
    if result.returncode != 0:
        why = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise AddressError(f"stack '{stack}': `{' '.join(argv)}` exited {result.returncode}: {why}")
    try:
        outputs = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AddressError(f"stack '{stack}': `{' '.join(argv)}` did not print JSON") from None
    address = outputs.get("address") if isinstance(outputs, dict) else None
    if not isinstance(address, str) or not address:
        raise AddressError(
            f"stack '{stack}' has no 'address' output yet (was `pulumi up -s {stack}` run?); "
            "give the address with --host ADDRESS"
        )
    return address


def stack_host(stack: Stack, override: str | None) -> str:
    if override:
        return host_address(override)
    host = stack.config.host
    if isinstance(host, ExistingTarget):
        return host.address
    return address_from_outputs(stack.name)


def login_for(stack: Stack, *, host: str | None, identity: str | None, known_hosts: str | None) -> Login:
    """The admin login of the stack's host (user and port from --host when it names them)."""
    config = stack.config
    user, port = config.ssh_user, config.access.ssh_port
    if host:
        spec_user, _, rest = host.rpartition("@")
        user = spec_user or user
        if rest.count(":") == 1:
            port = int(rest.partition(":")[2])
    key = Path(identity).expanduser() if identity else None
    if key is not None and not key.is_file():
        raise AddressError(f"identity file {key} does not exist")
    known = Path(known_hosts).expanduser() if known_hosts else Path.home() / ".ssh" / "known_hosts"
    return Login(stack_host(stack, host), user, port, key, known)


def has_pinned_key(login: Login) -> bool:
    """Whether known_hosts holds a key for the host (ssh-keygen -F: hashed entries too)."""
    name = login.host if login.port == 22 else f"[{login.host}]:{login.port}"
    if not login.known_hosts.is_file():
        return False
    result = subprocess.run(
        ["ssh-keygen", "-F", name, "-f", str(login.known_hosts)], capture_output=True, timeout=30, check=False
    )
    return result.returncode == 0
