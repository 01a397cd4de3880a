"""chain: aztec — an Aztec developer box (role dev) or full node (role node), from the pinned
`@aztec/aztec` npm package under systemd (no Docker). Role sequencer: its settings are
designed and validated, the role itself is not implemented yet (runbooks/aztec-dev.md).
Where each fact was read: adapters/aztec/SOURCES.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from adapters.aztec.plan import build
from adapters.aztec.settings import AztecSettings
from infrakit.chain import ChainAdapter, ChainParts, Problem, Role
from infrakit.config.models import HcloudTarget

if TYPE_CHECKING:
    from infrakit.config.loader import Stack
    from infrakit.config.models import StackConfig

KEY = "infrakit:chainSettings"
# The networks `aztec start --network` knows in 4.1.2 that a stack may name (staging ones left out).
NODE_NETWORKS = ("devnet", "testnet", "mainnet")
ROLE_KEYS = {"dev": ("dev",), "node": ("node",), "sequencer": ("node", "sequencer")}


class Aztec(ChainAdapter[AztecSettings]):
    name: ClassVar[str] = "aztec"
    roles: ClassVar[tuple[Role, ...]] = (
        Role(name="dev", summary="a developer box: the pinned aztec CLI and anvil for one developer account"),
        Role(name="node", summary="an Aztec full node (node + archiver) under systemd; only P2P is public"),
        Role(
            name="sequencer",
            holds_keys=True,
            summary="an Aztec sequencer (validator keys): settings designed, role not implemented yet",
        ),
    )
    networks: ClassVar[tuple[str, ...]] = ("local", *NODE_NETWORKS)
    settings_model: ClassVar[type[BaseModel] | None] = AztecSettings
    runbook: ClassVar[str | None] = "runbooks/aztec-dev.md"

    def check(self, config: StackConfig, settings: AztecSettings | None) -> list[Problem]:
        assert settings is not None  # the registry validated them with settings_model
        problems: list[Problem] = []
        role = config.role
        wanted = ROLE_KEYS.get(role, ())
        for key in ("dev", "node", "sequencer"):
            if getattr(settings, key) is not None and key not in wanted:
                owners = " or ".join(r for r, keys in ROLE_KEYS.items() if key in keys)
                problems.append((f"{KEY}.{key}", f"only for role {owners} (this stack's role is {role!r}): remove it"))
        if isinstance(config.host, HcloudTarget) and config.host.image != "ubuntu-24.04":
            problems.append(
                (
                    "infrakit:host.image",
                    "Aztec's prover binary (bb in @aztec/bb.js) needs glibc 2.39 or "
                    f"newer: use ubuntu-24.04 ({config.host.image} has an older C library)",
                )
            )
        if role in {"node", "sequencer"}:
            if settings.node is None:
                problems.append((f"{KEY}.node", "required for role node: l1ExecutionUrls and l1ConsensusUrls at least"))
            if config.network not in NODE_NETWORKS:
                problems.append(
                    (
                        "infrakit:network",
                        f"role {role} joins a public network: one of "
                        f"{', '.join(NODE_NETWORKS)} (local is for role dev)",
                    )
                )
        if role == "sequencer":
            if settings.sequencer is None:
                problems.append((f"{KEY}.sequencer", "required for role sequencer: coinbase and feeRecipient"))
            problems.append(
                (
                    "infrakit:role",
                    "role sequencer is designed but not implemented yet: its settings "
                    "validate, no plan is built (runbooks/aztec-dev.md, 'Sequencer: next step')",
                )
            )
        return problems

    def parts(self, stack: Stack) -> ChainParts:
        return build(stack, self.settings(stack))


ADAPTER = Aztec()
