"""An Ethereum Component as core's hardened service unit (infrakit/plan/units.py)."""

from __future__ import annotations

from adapters.ethereum import builders
from adapters.ethereum.clients import JWT_GROUP, Component, Ctx
from infrakit.plan.units import ServiceUnit, render_service_unit

DEPENDS = {"beacon": ("eth-execution.service",), "validator": ("eth-beacon.service",), "execution": (), "mevboost": ()}
DESCRIPTION = {
    "execution": "Ethereum execution client",
    "beacon": "Ethereum beacon node",
    "validator": "Ethereum validator client",
    "mevboost": "MEV-boost (builder API sidecar)",
}
NO_START_LIMIT = (
    "No network at first start (or a checkpoint server down): the client exits and is started",
    "again every RestartSec, never given up on (no start limit).",
)
NOTES = (
    "Flags: adapters/ethereum/CLIENTS.md says where each was checked. Operations: runbooks/ethereum.md.",
    "Every RPC, engine and metrics port binds 127.0.0.1; only P2P ports are public.",
)


def service_unit(component: Component, ctx: Ctx, artifacts: str, builder_wants: bool = False) -> ServiceUnit:
    pre = component.pre(ctx) if component.pre else None
    wants = list(DEPENDS[component.role])
    x_fields = {"Artifacts": artifacts}
    digest = builders.config_digest(component.client, ctx) if component.role == "validator" else None
    if digest:
        x_fields["Builder-Config"] = digest  # the file eth_prepare installs: its change restarts the client
    if builder_wants and component.role == "beacon":
        wants.append("eth-mevboost.service")
    return ServiceUnit(
        ident=component.unit.removesuffix(".service"),
        description=f"{DESCRIPTION[component.role]}: {component.client} ({ctx.network})",
        user=component.user,
        exec_start=component.argv(ctx),
        owner="adapters/ethereum",
        notes=NOTES,
        wants=wants,
        groups=[JWT_GROUP] if component.role in {"execution", "beacon"} else [],
        # A service user's home is /nonexistent and ProtectSystem=strict makes everything but the
        # data dir read-only: whatever a client writes under $HOME (caches, logs) lands in its data dir.
        environment={**({"HOME": component.data_dir} if component.data_dir else {}), **component.environment},
        working_directory=component.data_dir,
        exec_start_pre=[pre] if pre else [],
        read_write=[component.data_dir] if component.data_dir else [],
        stop_timeout=component.stop_timeout,
        jit=component.jit,
        x_fields=x_fields,
        no_start_limit=NO_START_LIMIT,
        restart_prevent=component.restart_prevent,
        restart_prevent_why="Doppelganger protection found these keys live elsewhere: never restart into signing.",
        start_timeout=component.start_timeout,
    )


def render_unit(component: Component, ctx: Ctx, artifacts: str, builder_wants: bool = False) -> str:
    return render_service_unit(service_unit(component, ctx, artifacts, builder_wants))
