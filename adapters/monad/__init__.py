"""chain: monad — a Monad full node or validator on bare metal (monad-bft, monad-execution,
monad-rpc, otelcol from Category Labs' `monad` package). See runbooks/monad.md; where each
fact was read: adapters/monad/SOURCES.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from adapters.monad.plan import SECRET, base_config, build
from adapters.monad.settings import MonadSettings
from infrakit.chain import ChainAdapter, ChainParts, Problem, Role
from infrakit.config.models import HcloudTarget

if TYPE_CHECKING:
    from infrakit.config.loader import Stack
    from infrakit.config.models import StackConfig

KEY = "infrakit:chainSettings"
HCLOUD_REFUSED = (
    "Monad stacks need bare metal (Monad's docs: cloud and virtualised hosts are not supported; "
    "16 physical cores at 4.5 GHz+, SMT off, a dedicated 2 TB NVMe drive for TrieDB with no RAID): "
    "use target: existing with the server's address"
)


class Monad(ChainAdapter[MonadSettings]):
    name: ClassVar[str] = "monad"
    roles: ClassVar[tuple[Role, ...]] = (
        Role(name="fullnode", summary="a Monad full node"),
        Role(name="validator", holds_keys=True, summary="a Monad validator; holds its secp/BLS keystores"),
    )
    networks: ClassVar[tuple[str, ...]] = ("testnet", "mainnet")
    settings_model: ClassVar[type[BaseModel] | None] = MonadSettings
    runbook: ClassVar[str | None] = "runbooks/monad.md"
    # The keystore password: `pulumi config set --secret monadKeystorePassword`; reaches the
    # host only on monad_config's stdin (the env file the units read is 0640 root:monad).
    secret_keys: ClassVar[Mapping[str, str]] = {
        SECRET: "password of the Monad node's secp/BLS keystores (stdin; 0640 env file on the host)",
    }

    def check(self, config: StackConfig, settings: MonadSettings | None) -> list[Problem]:
        problems: list[Problem] = []
        if isinstance(config.host, HcloudTarget):
            problems.append(("infrakit:host.target", HCLOUD_REFUSED))
        assert settings is not None  # the registry validated them with settings_model
        if settings.node_config_base is not None:
            _, problem = base_config(settings)
            if problem:
                problems.append((f"{KEY}.nodeConfigBase", problem))
        return problems

    def parts(self, stack: Stack) -> ChainParts:
        return build(stack, self.settings(stack))


ADAPTER = Monad()
