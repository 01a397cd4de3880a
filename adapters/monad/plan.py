"""The Monad part of a host plan: steps, ports, services and health checks.

Order on the host: hardware/OS checks (setup_server_adapter.sh) -> the `monad` package from
Category Labs' signed repository, pinned and held (core apt kind) -> the package's kernel
tuning applied and checked -> TrieDB drive prepared (blank device or force only) -> keys
created if absent -> node.toml + env in the layout the installed package uses -> services
enabled in order -> smoke test. Facts and where they were read: adapters/monad/SOURCES.md.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from adapters.monad.settings import MonadSettings
from infrakit.artifacts.apt import AptPackage, apt_step
from infrakit.chain import ChainParts
from infrakit.config.loader import Stack
from infrakit.plan.evm_checks import evm_head_check, evm_sync_check
from infrakit.plan.model import HealthCheck, OpenPort, RenderedFile, Service, Step
from infrakit.plan.sources import PROJECT_ROOT
from infrakit.plan.templates import render

SCRIPTS = "adapters/monad/scripts"
TEMPLATES = "adapters/monad/templates"
SECRET = "monadKeystorePassword"  # noqa: S105 - the config key's name, not a password
CHAIN = {"testnet": "monad_testnet", "mainnet": "monad_mainnet"}
RPC_URL = "http://127.0.0.1:8080"
# Started in this order (one-time TrieDB init first, then execution, consensus, RPC); the
# timer cleans old ledger/WAL artifacts hourly. otelcol collects the clients' metrics.
SERVICES = ("otelcol.service", "monad-execution.service", "monad-bft.service", "monad-rpc.service")
TIMERS = ("monad-cruft.timer",)
PUBLIC_PORTS = (
    OpenPort(port=8000, protocol="tcp", exposure="public", purpose="monad-bft p2p (TCP)"),
    OpenPort(port=8000, protocol="udp", exposure="public", purpose="monad-bft p2p (UDP, raptorcast)"),
    OpenPort(port=8001, protocol="udp", exposure="public", purpose="monad-bft authenticated UDP"),
)
PRIVATE_PORTS = (
    OpenPort(port=8080, protocol="tcp", exposure="private", purpose="monad-rpc JSON-RPC"),
    OpenPort(port=9143, protocol="tcp", exposure="private", purpose="monad metrics"),
    OpenPort(port=4317, protocol="tcp", exposure="private", purpose="OTLP gRPC (otelcol receiver)"),
    OpenPort(port=4318, protocol="tcp", exposure="private", purpose="OTLP HTTP (otelcol receiver)"),
    OpenPort(port=8888, protocol="tcp", exposure="private", purpose="otelcol internal metrics"),
    OpenPort(port=8889, protocol="tcp", exposure="private", purpose="otelcol Prometheus exporter"),
)


def key_path(settings: MonadSettings) -> Path:
    path = Path(settings.repository.key_file)
    return path if path.is_absolute() else PROJECT_ROOT / path


def package(stack: Stack, settings: MonadSettings) -> tuple[AptPackage | None, str | None]:
    """The apt kind's package, or why it cannot be built yet (a blocker, never a guess)."""
    repo = settings.repository
    path = key_path(settings)
    fix = (
        f"fetch the key from {repo.uri.rstrip('/')}/keys/public-key.asc, check its fingerprint out of "
        "band (the release announcement or a Category Labs contact), save it as "
        f"{repo.key_file} and set chainSettings.repository.keyFingerprint"
    )
    if repo.key_fingerprint is None:
        return None, f"stack '{stack.name}': infrakit:chainSettings.repository.keyFingerprint is not set: {fix}"
    if not path.is_file():
        return None, f"stack '{stack.name}': infrakit:chainSettings.repository.keyFile {path} does not exist: {fix}"
    try:
        pkg = AptPackage.model_validate(
            {
                "repo": "category-labs",
                "uri": repo.uri,
                "suite": repo.suite,
                "components": repo.components,
                "key": path.read_text(encoding="utf-8"),
                "keyFingerprint": repo.key_fingerprint,
                "package": "monad",
                "version": settings.version,
                "allowDowngrade": settings.allow_downgrade,
            }
        )
    except ValueError as exc:
        return None, f"stack '{stack.name}': infrakit:chainSettings.repository: {exc}"
    return pkg, None


MANAGED_KEYS = ("node_name", "beneficiary", "bootstrap")


def project_path(name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else PROJECT_ROOT / path


def base_config(settings: MonadSettings) -> tuple[str | None, str | None]:
    """The network's node.toml named by the stack, or what is wrong with it."""
    if settings.node_config_base is None:
        return None, (
            "not set: download the network's node.toml from Monad's node-operator docs, review it, "
            "remove node_name, beneficiary and [bootstrap] (the stack sets them), keep it in the project "
            "and name it here"
        )
    path = project_path(settings.node_config_base)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, f"{path} is not valid TOML ({exc})"
    clash = [key for key in MANAGED_KEYS if key in data]
    if clash:
        return None, f"{path} sets {', '.join(clash)}: remove them, the stack sets them (nodeName, beneficiary, peers)"
    return text.strip(), None


def node_toml(stack: Stack, settings: MonadSettings, base: str | None) -> str:
    name = settings.node_config_base or "no nodeConfigBase"
    text = render(
        f"{TEMPLATES}/node.toml.j2",
        stack=stack.name,
        settings=settings,
        base_name=name,
        base=base if base is not None else "# (chainSettings.nodeConfigBase is not set: nothing here)",
    )
    tomllib.loads(text)  # every input was validated; a template bug must not reach a host
    return text


def env_file(stack: Stack) -> str:
    return render(f"{TEMPLATES}/monad.env.j2", stack=stack.name, chain=CHAIN[stack.config.network])


def steps(stack: Stack, settings: MonadSettings, pkg: AptPackage | None, base: str | None) -> list[Step]:
    hardware = " (findings reported, not enforced: lab)" if settings.hardware_checks == "report" else ""
    out = [
        Step(
            name="monad_host_checks",
            script="adapters/monad/setup_server_adapter.sh",
            description="Monad server checks: Ubuntu 24.04+, cores, RAM, SMT off, kernel not in the known-bad range"
            + hardware,
            params={"OS_OVERRIDE": settings.os_override, "HARDWARE_CHECKS": settings.hardware_checks},
        )
    ]
    installed: tuple[str, ...] = ()
    if pkg is not None:
        out.append(apt_step(pkg, name="monad_package", requires=("monad_host_checks",)))
        installed = ("monad_package",)
    out.append(
        Step(
            name="monad_tuning",
            script=f"{SCRIPTS}/tuning.sh",
            description="the package's sysctl file applied and hugepages service enabled; refused keys reported",
            requires=installed,
        )
    )
    toml = RenderedFile(
        name="node.toml", dest="/etc/monad/node.toml", mode="0640", content=node_toml(stack, settings, base)
    )
    out.append(
        Step(
            name="monad_config",
            script=f"{SCRIPTS}/configure.sh",
            description="secp and BLS keystores created if absent (never overwritten; where they are is printed), "
            "node.toml and the env file (password from stdin, 0640) in the installed package's layout",
            files=(toml, RenderedFile(name="monad.env", dest="/etc/monad/env", mode="0640", content=env_file(stack))),
            # Without the secret the plan is blocked (build): it renders for review, never runs.
            secrets={"KEYSTORE_PASSWORD": SECRET} if SECRET in stack.secrets else {},
            requires=installed,
        )
    )
    triedb = settings.triedb
    prepared: tuple[str, ...] = ()
    if triedb.device is not None:
        how = "FORCED even if the device holds data" if triedb.force else "only if the device is blank (else it stops)"
        out.append(
            Step(
                name="monad_triedb",
                script=f"{SCRIPTS}/triedb.sh",
                description=f"TrieDB drive {triedb.device}: GPT + one partition + udev symlink /dev/triedb, {how}; "
                "512-byte LBA checked",
                params={"TRIEDB_DEVICE": triedb.device, "TRIEDB_FORCE": "1" if triedb.force else "0"},
            )
        )
        prepared = ("monad_triedb",)
    out.append(
        Step(
            name="monad_services",
            script=f"{SCRIPTS}/services.sh",
            description="monad-mpt once on a fresh TrieDB, then " + ", ".join(SERVICES) + " enabled and running; "
            "restarted when their config changed",
            params={"SERVICES": " ".join(SERVICES), "TIMERS": " ".join(TIMERS)},
            requires=("monad_tuning", "monad_config", *prepared),
        )
    )
    out.append(
        Step(
            name="monad_smoke",
            script=f"{SCRIPTS}/smoke_test.sh",
            description="smoke test: services active, eth_blockNumber answers and advances, RPC on localhost only",
            params={"SERVICES": " ".join(SERVICES), "RPC_URL": RPC_URL, "LOCAL_PORTS": "8080", "WAIT_SECONDS": "120"},
            requires=("monad_services",),
        )
    )
    return out


def health_checks() -> list[HealthCheck]:
    checks = [HealthCheck(name=unit.removesuffix(".service"), kind="systemd", target=unit) for unit in SERVICES]
    checks.append(evm_sync_check("monad_syncing", RPC_URL))
    # "advancing": the latest block's age. Monad makes blocks well under a second apart, so a
    # head 10 s old is a stall worth a look and 60 s old is a node that stopped following.
    checks.append(evm_head_check("monad_head_age", RPC_URL, warn_age=10, crit_age=60))
    checks.append(
        HealthCheck(
            name="monad_block_number",
            kind="http",
            target=RPC_URL,
            method="POST",
            body='{"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":1}',
            headers={"Content-Type": "application/json"},
            query=".result|hex",
            warn=1,
            crit=0,
            bound="min",
        )
    )
    return checks


def build(stack: Stack, settings: MonadSettings) -> ChainParts:
    pkg, blocker = package(stack, settings)
    blockers = [blocker] if blocker else []
    base, problem = base_config(settings)
    if problem:
        blockers.append(f"stack '{stack.name}': infrakit:chainSettings.nodeConfigBase {problem}")
    if SECRET not in stack.secrets:
        blockers.append(
            f"stack '{stack.name}': infrakit:{SECRET} is not set: `pulumi config set --secret "
            f"{SECRET}` (the keystores' password; for `infrakit apply` export "
            f"INFRAKIT_SECRET_{SECRET.upper()})"
        )
    services = [Service(name=unit.removesuffix(".service"), unit=unit) for unit in SERVICES]
    return ChainParts(
        steps=steps(stack, settings, pkg, base),
        ports=[*PUBLIC_PORTS, *PRIVATE_PORTS],
        services=services,
        health_checks=health_checks(),
        packages=("parted", "nvme-cli"),
        data_dirs=["/var/lib/monad"],
        blockers=blockers,
        smoke_test="monad_smoke",
    )
