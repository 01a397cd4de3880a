"""chain: monad — a Monad full node or validator on bare metal (monad-bft, monad-execution,
monad-rpc, otelcol from Category Labs' `monad` package). See runbooks/monad.md; where each
fact was read: adapters/monad/SOURCES.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from adapters.base import AdapterParts
from adapters.monad.plan import SECRET, base_config, build
from adapters.monad.settings import MonadSettings
from infrakit.config.errors import problems_from_validation
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


def _rekey(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Pydantic reports keys relative to chainSettings; name them from the stack's root."""
    out = []
    for key, message in problems:
        rest = key.removeprefix("infrakit:").removeprefix("<root>")
        out.append((f"{KEY}.{rest}" if rest else KEY, message))
    return out


class Monad:
    name: str = "monad"
    roles: tuple[str, ...] = ("fullnode", "validator")
    networks: tuple[str, ...] = ("testnet", "mainnet")
    # The keystore password: from `pulumi config set --secret monadKeystorePassword`, on stdin.
    secrets: tuple[str, ...] = (SECRET,)

    def validate(self, config: StackConfig) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if isinstance(config.host, HcloudTarget):
            problems.append(("infrakit:host.target", HCLOUD_REFUSED))
        try:
            settings = MonadSettings.model_validate(config.chain_settings)
        except ValidationError as exc:
            return problems + _rekey(problems_from_validation(exc))
        if settings.node_config_base is not None:
            _, problem = base_config(settings)
            if problem:
                problems.append((f"{KEY}.nodeConfigBase", problem))
        return problems

    def parts(self, stack: Stack) -> AdapterParts:
        return build(stack)


ADAPTER = Monad()
