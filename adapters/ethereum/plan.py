"""The Ethereum part of a host plan: steps, ports, services and health checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

from adapters.ethereum import artifacts as arts
from adapters.ethereum import builders, forks
from adapters.ethereum.clients import (
    BEACON,
    BEACON_P2P,
    BEACON_URL,
    DATA_ROOT,
    EL_RPC_PORT,
    EXECUTION,
    EXECUTION_P2P,
    INSTALL_ROOT,
    JWT_FILE,
    JWT_GROUP,
    MEV_BOOST,
    MEV_BOOST_URL,
    PRIVATE_PORTS,
    VALIDATOR,
    Component,
    Ctx,
)
from adapters.ethereum.networks import BY_NAME
from adapters.ethereum.settings import EthereumSettings
from adapters.ethereum.units import render_unit
from infrakit.artifacts import pinned
from infrakit.chain import ChainParts
from infrakit.config.loader import Stack
from infrakit.plan.evm_checks import evm_head_check, evm_peers_check, evm_sync_check
from infrakit.plan.model import HealthCheck, OpenPort, RenderedFile, Service, Step

HOST = Path(__file__).resolve().parent / "host"
VOLUME_DEVICE = "/dev/disk/by-id/scsi-0HC_Volume_*"  # how Hetzner Cloud exposes an attached volume
KEYS_MARKER = f"{DATA_ROOT}/validator/.infrakit-keys-imported"
GENESIS_VALIDATORS_ROOT = {
    "mainnet": "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95",
    "hoodi": "0x212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f",
    "sepolia": "0xd8ea171f3c94aea21ebc42a1ed61052acf3f9209c00e4efbaaddac09ed9b8078",
}


def context(stack: Stack, settings: EthereumSettings) -> Ctx:
    network = BY_NAME[stack.config.network]
    consensus = settings.consensus
    checkpoint = (consensus.checkpoint_sync_url or network.checkpoint_sync_url) if consensus.checkpoint_sync else None
    validator = settings.validator
    mev = settings.mev_boost
    # mev-boost serves the builder API of the beacon node until Glamsterdam; with enshrined
    # proposer-builder separation (EIP-7732) the beacon node takes bids itself: no sidecar.
    wanted = mev.enabled if mev is not None and mev.enabled is not None else not forks.epbs_active(network.name)
    builder = stack.config.role == "validator" and wanted
    epbs = settings.builders if stack.config.role == "validator" else None
    return Ctx(
        network=network.name,
        metrics=settings.metrics,
        checkpoint_url=checkpoint,
        builder=builder,
        fee_recipient=validator.fee_recipient if validator else "",
        graffiti=validator.graffiti if validator else "",
        doppelganger=validator.doppelganger if validator else True,
        relays=tuple(mev.relays if mev and mev.relays else network.relays),
        min_bid=mev.min_bid if mev else 0.0,
        archive=settings.execution.archive,
        genesis_sync=not consensus.checkpoint_sync,
        builders=tuple(epbs.urls) if epbs else (),
        builder_min_bid_gwei=epbs.min_bid_gwei if epbs else 0,
        epbs_pending=bool(forks.epbs_active(network.name) or forks.epbs_scheduled(network.name)),
    )


def components(stack: Stack, settings: EthereumSettings, ctx: Ctx) -> list[Component]:
    parts = [EXECUTION[settings.execution.client], BEACON[settings.consensus.client]]
    if stack.config.role == "validator":
        parts.append(VALIDATOR[settings.consensus.client])
        if ctx.builder:
            parts.insert(0, MEV_BOOST)
    return parts


def tools_env(stack: Stack, settings: EthereumSettings) -> str:
    """Settings for ik-eth-validator. No versions here: a client bump must not re-run eth_prepare."""
    client = settings.consensus.client
    vc = VALIDATOR[client]
    vc_bin = vc.argv(Ctx(network=stack.config.network))[0]
    lines = {
        "CLIENT": client,
        "NETWORK": stack.config.network,
        "VC_UNIT": vc.unit,
        "VC_USER": vc.user,
        "VC_DATA": vc.data_dir or "",
        "VC_BIN": vc_bin,
        "BN_BIN": BEACON[client].argv(Ctx(network=stack.config.network))[0],
        "BEACON_API": BEACON_URL,
        "KEYS_MARKER": KEYS_MARKER,
        "INSTALL_ROOT": INSTALL_ROOT,
        "GENESIS_VALIDATORS_ROOT": GENESIS_VALIDATORS_ROOT[stack.config.network],
    }
    body = "".join(f"{key}={value}\n" for key, value in lines.items())
    return f"# Managed by InfraKit (eth_prepare): read by ik-eth-validator. No secrets here.\n{body}"


def prepare_step(stack: Stack, settings: EthereumSettings, parts: list[Component], ctx: Ctx) -> Step:
    files = [RenderedFile(name="ethereum.env", dest="/etc/infrakit/ethereum.env", mode="0644",
                          content=tools_env(stack, settings))]
    if stack.config.role == "validator":
        files.append(RenderedFile(name="ik-eth-validator", dest="/usr/local/sbin/ik-eth-validator", mode="0755",
                                  content=(HOST / "ik-eth-validator").read_text(encoding="utf-8")))
        if builder_file := builders.builder_file(settings.consensus.client, ctx):
            files.append(builder_file)
    readers = [c.user for c in parts if c.role in {"execution", "beacon"}]
    return Step(
        name="eth_prepare",
        script="adapters/ethereum/scripts/prepare.sh",
        description="service users, 0700 data dirs, engine JWT secret generated on the host (0640, EL+CL only), tools",
        params={
            "SERVICE_USERS": " ".join(c.user for c in parts),
            "JWT_READERS": " ".join(readers),
            "JWT_GROUP": JWT_GROUP,
            "JWT_FILE": JWT_FILE,
            "DATA_ROOT": DATA_ROOT,
            "DATA_DIRS": " ".join(f"{c.user}:{c.role}" for c in parts if c.data_dir),
        },
        files=tuple(files),
    )


def unit_content(component: Component, ctx: Ctx, resolved: dict[str, pinned.Resolved]) -> str:
    used = [resolved[name] for name in component.artifacts]
    return render_unit(component, ctx, ", ".join(r.label() for r in used), builder_wants=ctx.builder)


def unit_step(component: Component, ctx: Ctx, resolved: dict[str, pinned.Resolved], start: bool) -> Step:
    content = unit_content(component, ctx, resolved)
    return Step(
        name=f"unit_{component.role}",
        script="shared/services/install_systemd.sh",
        description=f"{component.unit} ({component.client}): hardened unit, "
                    + ("enabled and running; restarted when its unit changes" if start
                       else "installed but NOT enabled or started (validator phase 1/2 below)"),
        params={
            "UNITS": component.unit,
            "ENABLE": "1" if start else "0",
            "START": "1" if start else "0",
            # The validator client is (re)started only by validator_state, which knows whose keys
            # were imported: a unit rewritten for another client must never start without them.
            "RESTART_ON_CHANGE": "0" if component.role == "validator" else "1",
        },
        files=(RenderedFile(name=component.unit, dest=f"/etc/systemd/system/{component.unit}", content=content),),
        requires=tuple(pinned.step_name(name) for name in component.artifacts),
    )


def ports(stack: Stack, settings: EthereumSettings, ctx: Ctx) -> list[OpenPort]:
    client = settings.consensus.client
    out = [*EXECUTION_P2P[settings.execution.client], *BEACON_P2P[client], *PRIVATE_PORTS["execution"],
           *PRIVATE_PORTS["beacon"]]
    if client == "prysm":
        out += PRIVATE_PORTS["prysm"]
    if ctx.metrics:
        out += PRIVATE_PORTS["execution_metrics"] + PRIVATE_PORTS["beacon_metrics"]
    if stack.config.role == "validator":
        if ctx.metrics:
            out += PRIVATE_PORTS["validator_metrics"]
        if ctx.builder:
            out += PRIVATE_PORTS["mevboost"]
    return out


def health_checks(parts: list[Component], validator_enabled: bool) -> list[HealthCheck]:
    """Declared for the monitoring tier (which runs them with its thresholds): EL via the
    monitoring tier's Ethereum helpers, the beacon API's syncing/peers/health, mev-boost."""
    checks = [HealthCheck(name=c.unit.removesuffix(".service"), kind="systemd", target=c.unit)
              for c in parts if c.role != "validator" or validator_enabled]
    el = f"http://127.0.0.1:{EL_RPC_PORT}"
    checks += [
        evm_sync_check("el_syncing", el),
        evm_peers_check("el_peers", el),
        evm_head_check("el_head_age", el),
        HealthCheck(name="cl_syncing", kind="http", target=f"{BEACON_URL}/eth/v1/node/syncing", expect='"is_syncing"',
                    query=".data.sync_distance|tonumber", warn=8, crit=64, bound="max"),
        HealthCheck(name="cl_peers", kind="http", target=f"{BEACON_URL}/eth/v1/node/peer_count", expect='"connected"',
                    query=".data.connected|tonumber", warn=5, crit=1, bound="min"),
        HealthCheck(name="cl_health", kind="http", target=f"{BEACON_URL}/eth/v1/node/health"),
    ]
    if any(c.role == "mevboost" for c in parts):
        checks.append(HealthCheck(name="mevboost_status", kind="http", target=f"{MEV_BOOST_URL}/eth/v1/builder/status"))
    return checks


def build(stack: Stack, settings: EthereumSettings) -> ChainParts:
    network = stack.config.network
    ctx = context(stack, settings)
    parts = components(stack, settings, ctx)
    names = list(dict.fromkeys(name for c in parts for name in c.artifacts))
    resolved = {r.spec.name: r for r in arts.resolve(settings, names)}
    blockers = arts.warn_unlocked(stack.name, arts.lock_path(settings), list(resolved.values()))
    validator_enabled = bool(settings.validator and settings.validator.enabled)

    steps = [*volume_steps(stack), prepare_step(stack, settings, parts, ctx), rollback_step(list(resolved.values())),
             *(pinned.artifact_step(r, INSTALL_ROOT) for r in resolved.values())]
    unit_steps = [unit_step(c, ctx, resolved, start=c.role != "validator") for c in parts]
    steps += unit_steps
    if stack.config.role == "validator":
        vc = VALIDATOR[settings.consensus.client]
        digest = hashlib.sha256(unit_content(vc, ctx, resolved).encode()).hexdigest()
        steps.append(Step(
            name="validator_state",
            script="adapters/ethereum/scripts/validator_state.sh",
            description=("validator client enabled and started (keys must be imported for this client); "
                         "restarted only when its own unit or binary changed" if validator_enabled
                         else "validator client kept disabled and stopped until chainSettings.validator.enabled"),
            params={"UNIT": vc.unit, "ENABLED": "1" if validator_enabled else "0", "KEYS_MARKER": KEYS_MARKER,
                    "CLIENT": vc.client, "UNIT_DIGEST": digest,
                    "STOP_STATUSES": " ".join(str(code) for code in vc.restart_prevent)},
            requires=("unit_validator",),
        ))
    running = [c.unit for c in parts if c.role != "validator"]
    local = [p.port for p in ports(stack, settings, ctx) if p.exposure == "private" and p.protocol == "tcp"
             and p.port not in {5054, 6060, 5064}]
    steps.append(Step(
        name="eth_smoke",
        script="adapters/ethereum/scripts/smoke_test.sh",
        description="smoke test: services active, EL JSON-RPC and beacon API answer, RPC bound to localhost",
        params={
            "UNITS": " ".join(running),
            "MEV_BOOST": MEV_BOOST_URL if ctx.builder else "",
            "VALIDATOR_UNIT": "eth-validator.service" if stack.config.role == "validator" else "",
            "EXPECT_VALIDATOR": "active" if validator_enabled else "inactive",
            "LOCAL_PORTS": " ".join(str(p) for p in sorted(set(local))),
            "WAIT_SECONDS": "120",
        },
        requires=tuple(s.name for s in steps if s.name.startswith(("unit_", "validator_state"))),
    ))
    services = [Service(name=c.role, unit=c.unit, enabled=c.role != "validator" or validator_enabled) for c in parts]
    warnings = forks.readiness_warnings(stack.name, network, {r.spec.name: r.version for r in resolved.values()})
    warnings += forks.stale_schedule_warnings(stack.name, network)
    scheduled = forks.epbs_scheduled(network)
    if ctx.builder and scheduled:
        warnings.append(f"stack '{stack.name}': infrakit:chainSettings.mevBoost: Glamsterdam (ePBS, EIP-7732) is "
                        f"scheduled on {network} at {scheduled.at}; from then on the beacon node takes builder bids "
                        "itself and mev-boost is no longer called: set mevBoost.enabled: false after the fork")
    return ChainParts(steps=steps, ports=ports(stack, settings, ctx), services=services,
                      health_checks=health_checks(parts, validator_enabled), packages=("unzip",),
                      blockers=blockers, warnings=warnings, data_dirs=[d for c in parts if (d := c.data_dir)],
                      smoke_test="eth_smoke")


def volume_steps(stack: Stack) -> list[Step]:
    """When the stack declares a data volume, the chain's data root IS the volume's mount point:
    every data dir (execution, beacon, validator) lives on it, with the same paths as without one."""
    volume = getattr(stack.config.host, "volume", None)
    if volume is None:
        return []
    return [Step(
        name="eth_data_volume",
        script="adapters/ethereum/scripts/data_volume.sh",
        description=f"mount the data volume ({volume.format}) at {DATA_ROOT} by UUID, before any data dir exists",
        params={"VOLUME_DEVICE": VOLUME_DEVICE, "MOUNT_POINT": DATA_ROOT, "FSTYPE": volume.format},
    )]


def rollback_step(resolved: list[pinned.Resolved]) -> Step:
    """Before any artifact switches: refuse a downgrade the client's database cannot take."""
    policies = [f"{r.spec.name}={r.version}:{r.spec.rollback}:{','.join(r.spec.schema_changes) or '-'}"
                for r in resolved]
    return Step(
        name="eth_rollback_guard",
        script="adapters/ethereum/scripts/rollback_guard.sh",
        description="refuse a downgrade across a client's database schema change (runbook: which rollbacks are safe)",
        params={"ARTIFACTS": " ".join(policies), "INSTALL_ROOT": INSTALL_ROOT},
    )
