"""Command-line overrides of a stack file, for using one stack against another host without
editing it (e.g. the `lab` stack against any lab host):

- `--host [USER@]ADDRESS[:PORT]`: for an `existing` host, its `host.address` (the plan is
  built for that address; the lab key stays refused outside the lab network).
- `--admin-cidr CIDR` (repeatable): `access.adminCidrs` (what the host firewall lets in to SSH).

The overridden values are validated exactly like the stack file's.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from infrakit.config.loader import RawConfig, Stack, load, read_stack_file

if TYPE_CHECKING:
    from infrakit.chain.registry import Registry


def host_address(spec: str) -> str:
    """The address of `[user@]address[:port]` (IPv6 addresses without a port)."""
    rest = spec.rpartition("@")[2]
    return rest.partition(":")[0] if rest.count(":") == 1 else rest


def with_overrides(raw: RawConfig, *, host: str | None = None, admin_cidrs: Sequence[str] | None = None) -> RawConfig:
    values: dict[str, Any] = copy.deepcopy(dict(raw.values))
    target = values.get("host")
    if host and isinstance(target, dict) and target.get("target") == "existing":
        target["address"] = host_address(host)
    if admin_cidrs:
        access = values.get("access")
        values["access"] = {**(access if isinstance(access, dict) else {}), "adminCidrs": list(admin_cidrs)}
    return RawConfig(raw.stack, values, raw.secure)


def load_stack_with(
    name: str, chains: Registry, *, host: str | None = None, admin_cidrs: Sequence[str] | None = None
) -> Stack:
    """The stack `name` of the current project, with the overrides applied, validated."""
    return load(with_overrides(read_stack_file(name), host=host, admin_cidrs=admin_cidrs), chains)
