"""The one place a chain is registered. Adding a chain = a folder + one line here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.base import Adapter
from adapters.ethereum import ADAPTER as ETHEREUM
from adapters.monad import ADAPTER as MONAD
from adapters.none import ADAPTER as NONE

if TYPE_CHECKING:
    from infrakit.config.models import StackConfig

ADAPTERS: dict[str, Adapter] = {a.name: a for a in (NONE, ETHEREUM, MONAD)}


def get(chain: str) -> Adapter:
    return ADAPTERS[chain]


def validate(config: StackConfig) -> list[tuple[str, str]]:
    """Chain, role and network checks, then the adapter's own checks."""
    adapter = ADAPTERS.get(config.chain)
    if adapter is None:
        known = ", ".join(sorted(ADAPTERS))
        return [("infrakit:chain", f"unknown chain {config.chain!r} (expected one of: {known})")]
    problems: list[tuple[str, str]] = []
    if config.role not in adapter.roles:
        roles = ", ".join(adapter.roles)
        problems.append(
            ("infrakit:role", f"chain {adapter.name!r} has no role {config.role!r} (expected one of: {roles})")
        )
    if config.network not in adapter.networks:
        networks = ", ".join(adapter.networks)
        problems.append(
            ("infrakit:network",
             f"chain {adapter.name!r} has no network {config.network!r} (expected one of: {networks})")
        )
    return problems + adapter.validate(config)
