"""chain: none — a hardened host and nothing else; the base every chain builds on."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from infrakit.chain import ChainAdapter, ChainParts, Role

if TYPE_CHECKING:
    from infrakit.config.loader import Stack


class NoChain(ChainAdapter[BaseModel]):  # settings_model None: takes no chainSettings
    name: ClassVar[str] = "none"
    roles: ClassVar[tuple[Role, ...]] = (Role(name="host", summary="a hardened, monitored host"),)
    networks: ClassVar[tuple[str, ...]] = ("none",)
    runbook: ClassVar[str | None] = "runbooks/hardened-host.md"

    def parts(self, stack: Stack) -> ChainParts:
        return ChainParts()


ADAPTER = NoChain()
