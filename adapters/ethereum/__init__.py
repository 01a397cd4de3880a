"""chain: ethereum — an L1 node (EL + CL beacon) or validator (+ validator client + MEV-boost).

Client diversity: execution geth | nethermind | reth | besu, consensus and validator
lighthouse | teku | prysm | lodestar | nimbus, every pair. Binaries come only from the lock
file (`versions.toml` -> `infrakit lock` -> `artifacts.lock.toml`). See runbooks/ethereum.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from adapters.ethereum import artifacts as arts
from adapters.ethereum import builders, forks
from adapters.ethereum.networks import NETWORKS, RETIRED
from adapters.ethereum.plan import build
from adapters.ethereum.settings import EthereumSettings
from infrakit.artifacts.lock import LockError
from infrakit.artifacts.manifest import ManifestError
from infrakit.chain import ChainAdapter, ChainParts, Problem, Role

if TYPE_CHECKING:
    from infrakit.config.loader import Stack
    from infrakit.config.models import StackConfig

KEY = "infrakit:chainSettings"
GENESIS_SYNC = {"lighthouse", "nimbus"}
GENESIS_SYNC_REFUSED = {
    "teku": "teku syncs from genesis only with --ignore-weak-subjectivity-period-enabled and, on hoodi and "
            "sepolia, a genesis state file (--initial-state) that InfraKit does not ship",
    "prysm": "prysm needs a genesis state (--genesis-state) for hoodi and sepolia, which InfraKit does not ship",
    "lodestar": "lodestar's genesis sync needs a genesis state for hoodi and sepolia, which InfraKit does not ship",
}
# Why a client's ePBS builder list is refused (SOURCES.md): no released, documented way to configure it.
BUILDERS_REFUSED = {
    "teku": "teku 26.10.x takes builders only through the hidden, experimental --Xbuilder-urls/--Xbuilder-min-bid "
            "flags (tech.pegasys.teku.cli.options.BuilderOptions) and no documented proposer-config entry",
    "nimbus": "nimbus 26.x asks at most one builder (the beacon node's --payload-builder-url) and its builder "
              "configuration API (nimbus-eth2 #8994) is not released",
}


def builder_problems(network: str, role: str, settings: EthereumSettings) -> list[tuple[str, str]]:
    """ePBS builders: only where Glamsterdam is coming, only for clients whose configuration is released."""
    if settings.builders is None or role != "validator":
        return []
    key = f"{KEY}.builders"
    if not (forks.epbs_active(network) or forks.epbs_scheduled(network)):
        return [(key, f"builders take effect from Glamsterdam (ePBS, EIP-7732), which is not scheduled on {network} "
                      "(versions.toml [forks]); remove builders until it is (before the fork, mevBoost serves "
                      "blocks from relays)")]
    cl = settings.consensus.client
    if cl not in builders.SUPPORTED:
        return [(key, f"refused for {cl}: {BUILDERS_REFUSED[cl]}. Use lighthouse, prysm or lodestar for external "
                      "builders, or remove builders (blocks are then built locally or taken from bids on p2p)")]
    return []


def client_problems(network: str, role: str, settings: EthereumSettings) -> list[tuple[str, str]]:
    """What the chosen clients cannot do here: refused with the reason, never half-done."""
    problems: list[tuple[str, str]] = []
    if settings.execution.archive and settings.execution.client != "reth":
        problems.append((f"{KEY}.execution.archive", "an archive node is wired for reth only (this stack runs "
                         f"{settings.execution.client}, which runs as a full node); use client: reth or "
                         "archive: false"))
    cl = settings.consensus.client
    if not settings.consensus.checkpoint_sync and cl not in GENESIS_SYNC:
        problems.append((f"{KEY}.consensus.checkpointSync", f"false is refused for {cl}: {GENESIS_SYNC_REFUSED[cl]}. "
                         "Keep checkpointSync: true (set checkpointSyncUrl to a beacon node you trust), or use "
                         "lighthouse or nimbus, which sync from genesis"))
    mev = settings.mev_boost
    active = forks.epbs_active(network)
    if role == "validator" and active and mev is not None and mev.enabled:
        problems.append((f"{KEY}.mevBoost.enabled", f"Glamsterdam (enshrined proposer-builder separation, EIP-7732) "
                         f"is active on {network} since {active.at}: the beacon node takes builder bids itself "
                         "and mev-boost is no longer called. Set mevBoost.enabled: false and list external builders "
                         "in chainSettings.builders.urls (blocks are otherwise built locally or taken from bids on "
                         "p2p)"))
    return problems + builder_problems(network, role, settings)


class Ethereum(ChainAdapter[EthereumSettings]):
    name: ClassVar[str] = "ethereum"
    roles: ClassVar[tuple[Role, ...]] = (
        Role(name="node", summary="execution + consensus (beacon) node"),
        Role(name="validator", holds_keys=True,
             summary="node + validator client (+ MEV-boost); holds validator signing keys"),
    )
    networks: ClassVar[tuple[str, ...]] = NETWORKS
    settings_model: ClassVar[type[BaseModel] | None] = EthereumSettings
    runbook: ClassVar[str | None] = "runbooks/ethereum.md"

    def check(self, config: StackConfig, settings: EthereumSettings | None) -> list[Problem]:
        problems: list[Problem] = []
        if config.network in RETIRED:
            problems.append(("infrakit:network", RETIRED[config.network]))
        assert settings is not None  # the registry validated them with settings_model
        if config.role == "validator":
            if settings.validator is None:
                problems.append((f"{KEY}.validator", "role validator needs validator.feeRecipient (an EIP-55 "
                                 "checksummed address you control); validator.enabled stays false until keys "
                                 "are imported"))
        else:
            for key, value in (("validator", settings.validator), ("mevBoost", settings.mev_boost),
                               ("builders", settings.builders)):
                if value is not None:
                    problems.append((f"{KEY}.{key}", f"only for role validator (this stack is role {config.role})"))
        problems += client_problems(config.network, config.role, settings)
        try:
            manifest = arts.manifest()
            lock = arts.lock_for(settings)
        except (ManifestError, LockError) as exc:
            return [*problems, (f"{KEY}.artifacts.lockFile", str(exc))]
        for name, version in settings.versions.items():
            if name not in manifest.artifacts:
                problems.append((f"{KEY}.versions.{name}",
                                 f"unknown artifact (known: {', '.join(sorted(manifest.artifacts))})"))
            elif lock.find(name, version) is None:
                problems.append((f"{KEY}.versions.{name}",
                                 f"{name} {version} is not in {lock.path.name}; run `infrakit lock {name}@{version}`"))
        if settings.artifacts.lock_file and not arts.lock_path(settings).is_file():
            problems.append((f"{KEY}.artifacts.lockFile", f"{arts.lock_path(settings)} does not exist"))
        return problems

    def parts(self, stack: Stack) -> ChainParts:
        return build(stack, self.settings(stack))


ADAPTER = Ethereum()
