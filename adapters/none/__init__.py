"""chain: none — a hardened host and nothing else; the base every chain builds on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.base import AdapterParts

if TYPE_CHECKING:
    from infrakit.config.loader import Stack
    from infrakit.config.models import StackConfig


class NoChain:
    name: str = "none"
    roles: tuple[str, ...] = ("host",)
    networks: tuple[str, ...] = ("none",)

    def validate(self, config: StackConfig) -> list[tuple[str, str]]:
        if config.chain_settings:
            return [("infrakit:chainSettings", "chain 'none' takes no chain settings")]
        return []

    def parts(self, stack: Stack) -> AdapterParts:
        return AdapterParts()


ADAPTER = NoChain()
