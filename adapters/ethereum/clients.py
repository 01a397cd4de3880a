"""Every supported client: its artifacts, its P2P ports and the exact command line per role.

One context (`Ctx`) carries what all command lines need; each builder returns an argv. The
flag names were checked against each client's own reference (see CLIENTS.md for the table of
sources); tests/adapters/ethereum/test_render.py pins them for every EL x CL pair and role.

Fixed local ports, the same whichever client runs (so tools, checks and runbooks never
branch on the client): EL JSON-RPC 8545, engine API 8551, EL metrics 6060, beacon REST API
5052, beacon metrics 5054, validator metrics 5064, mev-boost 18550 (all on 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from infrakit.plan.model import OpenPort

INSTALL_ROOT = "/opt/infrakit"
DATA_ROOT = "/var/lib/ethereum"
JWT_DIR = "/etc/ethereum"
JWT_FILE = f"{JWT_DIR}/jwt.hex"
JWT_GROUP = "eth-jwt"
LOCAL = "127.0.0.1"

EL_RPC_PORT = 8545
ENGINE_PORT = 8551
EL_METRICS_PORT = 6060
EL_P2P_PORT = 30303
RETH_DISCV5_PORT = 9200  # reth's discv5 default (reth node --discovery.v5.port); set explicitly, opened
CL_P2P_PORT = 9000
CL_QUIC_PORT = 9001  # lighthouse --quic-port, teku --p2p-quic-port, nimbus --quic-port, lodestar --port + 1
PRYSM_TCP_PORT = 13000
PRYSM_UDP_PORT = 12000
BEACON_API_PORT = 5052
BEACON_METRICS_PORT = 5054
VALIDATOR_METRICS_PORT = 5064
PRYSM_RPC_PORT = 4000
MEV_BOOST_PORT = 18550

ENGINE_URL = f"http://{LOCAL}:{ENGINE_PORT}"
BEACON_URL = f"http://{LOCAL}:{BEACON_API_PORT}"
MEV_BOOST_URL = f"http://{LOCAL}:{MEV_BOOST_PORT}"


@dataclass(frozen=True)
class Ctx:
    """What every command line needs; built once per plan."""

    network: str
    metrics: bool = True
    checkpoint_url: str | None = None
    builder: bool = False
    fee_recipient: str = ""
    graffiti: str = ""
    doppelganger: bool = True
    relays: tuple[str, ...] = ()
    min_bid: float = 0.0
    archive: bool = False  # reth: keep all history (otherwise --full)
    genesis_sync: bool = False  # checkpointSync: false, for the clients that support it (settings refuse the rest)
    # ePBS (Glamsterdam) external builders for the validator client; the adapter refuses them for clients
    # whose configuration is not released (teku, nimbus) and on networks where the fork is not scheduled.
    builders: tuple[str, ...] = ()
    builder_min_bid_gwei: int = 0
    epbs_pending: bool = False  # Glamsterdam active or scheduled on this network


@dataclass(frozen=True)
class Component:
    """One service of the node: which unit, user, data dir, and how to start it."""

    role: str  # execution | beacon | validator | mevboost
    client: str
    artifacts: tuple[str, ...]
    argv: Callable[[Ctx], list[str]]
    jit: bool = False  # a JIT runtime (JVM, .NET, V8) needs writable+executable memory
    environment: dict[str, str] = field(default_factory=dict)
    pre: Callable[[Ctx], list[str] | None] | None = None
    stop_timeout: int = 180
    # systemd's start timeout covers ExecStartPre: nimbus's trusted-node sync runs there.
    start_timeout: int | None = None
    # Exit statuses after which systemd must NOT restart the unit (a detected doppelganger).
    restart_prevent: tuple[int, ...] = ()

    @property
    def unit(self) -> str:
        return f"eth-{self.role}.service"

    @property
    def user(self) -> str:
        return f"eth-{self.role}"

    @property
    def data_dir(self) -> str | None:
        return None if self.role == "mevboost" else f"{DATA_ROOT}/{self.role}"


def binary(artifact: str, path: str) -> str:
    return f"{INSTALL_ROOT}/{artifact}/current/{path}"


EL_DATA = f"{DATA_ROOT}/execution"
CL_DATA = f"{DATA_ROOT}/beacon"
VC_DATA = f"{DATA_ROOT}/validator"
# ePBS builder settings the validator clients read (rendered by builders.py, installed by eth_prepare,
# world-readable: builder URLs and the fee recipient are public).
BUILDERS_DIR = "/etc/infrakit/eth-builders"
LIGHTHOUSE_BUILDERS = f"{BUILDERS_DIR}/lighthouse-builder-definitions.yml"
# lighthouse reads <datadir>/validators/builder_definitions.yml (and rewrites it): a copy in its data dir.
LIGHTHOUSE_BUILDERS_DEST = f"{VC_DATA}/validators/builder_definitions.yml"
PRYSM_PROPOSER_SETTINGS = f"{BUILDERS_DIR}/prysm-proposer-settings.json"
JAVA_ENV = {"JAVA_HOME": f"{INSTALL_ROOT}/jre/current"}


def _on(flag: bool, *args: str) -> list[str]:
    return list(args) if flag else []


# ---------------------------------------------------------------- execution ----
# geth: cmd/utils/flags.go (go-ethereum) and geth.ethereum.org/docs command-line options.
def geth(c: Ctx) -> list[str]:
    return [binary("geth", "geth"), f"--{c.network}", "--datadir", EL_DATA, "--syncmode", "snap",
            "--port", str(EL_P2P_PORT), "--discovery.port", str(EL_P2P_PORT),
            "--http", "--http.addr", LOCAL, "--http.port", str(EL_RPC_PORT), "--http.api", "eth,net,web3",
            "--http.vhosts", "localhost",
            "--authrpc.addr", LOCAL, "--authrpc.port", str(ENGINE_PORT), "--authrpc.jwtsecret", JWT_FILE,
            "--authrpc.vhosts", "localhost",
            *_on(c.metrics, "--metrics", "--metrics.addr", LOCAL, "--metrics.port", str(EL_METRICS_PORT))]


# nethermind: docs.nethermind.io fundamentals/configuration (JsonRpc.*, Network.*, Metrics.*).
def nethermind(c: Ctx) -> list[str]:
    return [binary("nethermind", "nethermind"), f"--config={c.network}", f"--data-dir={EL_DATA}",
            "--JsonRpc.Enabled=true", f"--JsonRpc.Host={LOCAL}", f"--JsonRpc.Port={EL_RPC_PORT}",
            f"--JsonRpc.EngineHost={LOCAL}", f"--JsonRpc.EnginePort={ENGINE_PORT}",
            f"--JsonRpc.JwtSecretFile={JWT_FILE}",
            f"--Network.P2PPort={EL_P2P_PORT}", f"--Network.DiscoveryPort={EL_P2P_PORT}",
            # file logs default to <install dir>/logs: read-only (root-owned, ProtectSystem=strict)
            f"--log-dir={EL_DATA}/logs",
            "--HealthChecks.Enabled=true",
            *_on(c.metrics, "--Metrics.Enabled=true", f"--Metrics.ExposeHost={LOCAL}",
                 f"--Metrics.ExposePort={EL_METRICS_PORT}")]


# reth: paradigmxyz.github.io/reth/cli/reth/node.html. Without --full reth keeps all history
# (an archive node). Its file logs default to $HOME/.cache/reth/logs, which does not exist for a
# service user (HOME=/nonexistent) and is read-only under ProtectSystem=strict: reth aborts.
def reth(c: Ctx) -> list[str]:
    return [binary("reth", "reth"), "node", "--chain", c.network, "--datadir", EL_DATA,
            *([] if c.archive else ["--full"]), "--log.file.directory", f"{EL_DATA}/logs",
            "--port", str(EL_P2P_PORT), "--discovery.port", str(EL_P2P_PORT),
            "--discovery.v5.port", str(RETH_DISCV5_PORT),
            "--http", "--http.addr", LOCAL, "--http.port", str(EL_RPC_PORT), "--http.api", "eth,net,web3",
            "--authrpc.addr", LOCAL, "--authrpc.port", str(ENGINE_PORT), "--authrpc.jwtsecret", JWT_FILE,
            *_on(c.metrics, "--metrics", f"{LOCAL}:{EL_METRICS_PORT}")]


# besu: besu.hyperledger.org reference/cli/options and how-to/use-engine-api. The engine API
# listens on the --rpc-http-host interface (127.0.0.1).
def besu(c: Ctx) -> list[str]:
    return [binary("besu", "bin/besu"), f"--network={c.network}", f"--data-path={EL_DATA}",
            "--sync-mode=SNAP", "--data-storage-format=BONSAI", f"--p2p-port={EL_P2P_PORT}",
            "--rpc-http-enabled=true", f"--rpc-http-host={LOCAL}", f"--rpc-http-port={EL_RPC_PORT}",
            "--rpc-http-api=ETH,NET,WEB3", "--host-allowlist=localhost,127.0.0.1",
            f"--engine-rpc-port={ENGINE_PORT}", f"--engine-jwt-secret={JWT_FILE}",
            "--engine-host-allowlist=localhost,127.0.0.1",
            *_on(c.metrics, "--metrics-enabled=true", f"--metrics-host={LOCAL}",
                 f"--metrics-port={EL_METRICS_PORT}")]


# ---------------------------------------------------------------- consensus ----
# lighthouse: lighthouse-book help_bn.md / help_vc.md, advanced_builders.md, validator_doppelganger.md.
def lighthouse_beacon(c: Ctx) -> list[str]:
    return [binary("lighthouse", "lighthouse"), "beacon_node", "--network", c.network, "--datadir", CL_DATA,
            "--execution-endpoint", ENGINE_URL, "--execution-jwt", JWT_FILE,
            "--port", str(CL_P2P_PORT), "--quic-port", str(CL_QUIC_PORT),
            "--http", "--http-address", LOCAL, "--http-port", str(BEACON_API_PORT),
            *(["--checkpoint-sync-url", c.checkpoint_url] if c.checkpoint_url else []),
            *_on(c.genesis_sync, "--allow-insecure-genesis-sync"),
            *_on(c.builder, "--builder", MEV_BOOST_URL),
            *_on(c.metrics, "--metrics", "--metrics-address", LOCAL, "--metrics-port", str(BEACON_METRICS_PORT))]


def lighthouse_validator(c: Ctx) -> list[str]:
    return [binary("lighthouse", "lighthouse"), "validator_client", "--network", c.network, "--datadir", VC_DATA,
            "--beacon-nodes", BEACON_URL, "--suggested-fee-recipient", c.fee_recipient, "--graffiti", c.graffiti,
            *_on(c.doppelganger, "--enable-doppelganger-protection"),
            *_on(c.builder, "--builder-proposals"),
            *_on(c.metrics, "--metrics", "--metrics-address", LOCAL, "--metrics-port", str(VALIDATOR_METRICS_PORT))]


def lighthouse_builders(c: Ctx) -> list[str] | None:
    """Copy the builder list where lighthouse reads it, or drop a copy once the stack has none.

    Only where Glamsterdam is active or scheduled: elsewhere builders are refused and the unit stays
    as it was (a changed validator unit is a restart, which costs doppelganger epochs)."""
    if c.builders:
        return ["/usr/bin/install", "-D", "-m", "0600", LIGHTHOUSE_BUILDERS, LIGHTHOUSE_BUILDERS_DEST]
    if c.epbs_pending:
        return ["/bin/rm", "-f", LIGHTHOUSE_BUILDERS_DEST]
    return None


# teku: docs.teku.consensys.io reference/cli (ee-*, rest-api-*, validators-*, builder-endpoint).
def teku_beacon(c: Ctx) -> list[str]:
    return [binary("teku", "bin/teku"), f"--network={c.network}", f"--data-path={CL_DATA}",
            f"--ee-endpoint={ENGINE_URL}", f"--ee-jwt-secret-file={JWT_FILE}", f"--p2p-port={CL_P2P_PORT}",
            f"--p2p-quic-port={CL_QUIC_PORT}",
            "--rest-api-enabled=true", f"--rest-api-interface={LOCAL}", f"--rest-api-port={BEACON_API_PORT}",
            "--rest-api-host-allowlist=localhost,127.0.0.1",
            *([f"--checkpoint-sync-url={c.checkpoint_url}"] if c.checkpoint_url else []),
            *_on(c.builder, f"--builder-endpoint={MEV_BOOST_URL}"),
            *_on(c.metrics, "--metrics-enabled=true", f"--metrics-interface={LOCAL}",
                 f"--metrics-port={BEACON_METRICS_PORT}", "--metrics-host-allowlist=localhost,127.0.0.1")]


def teku_validator(c: Ctx) -> list[str]:
    return [binary("teku", "bin/teku"), "validator-client", f"--network={c.network}", f"--data-path={VC_DATA}",
            f"--beacon-node-api-endpoint={BEACON_URL}", f"--validator-keys={VC_DATA}/keys:{VC_DATA}/passwords",
            f"--validators-proposer-default-fee-recipient={c.fee_recipient}", f"--validators-graffiti={c.graffiti}",
            f"--doppelganger-detection-enabled={str(c.doppelganger).lower()}",
            *_on(c.builder, "--validators-builder-registration-default-enabled=true"),
            *_on(c.metrics, "--metrics-enabled=true", f"--metrics-interface={LOCAL}",
                 f"--metrics-port={VALIDATOR_METRICS_PORT}")]


# prysm: OffchainLabs/prysm cmd/beacon-chain/flags/base.go, cmd/validator/flags/flags.go,
# config/features (enable-doppelganger); the REST gateway is --http-host/--http-port.
def prysm_beacon(c: Ctx) -> list[str]:
    checkpoint = [f"--checkpoint-sync-url={c.checkpoint_url}",
                  f"--genesis-beacon-api-url={c.checkpoint_url}"] if c.checkpoint_url else []
    metrics = ([f"--monitoring-host={LOCAL}", f"--monitoring-port={BEACON_METRICS_PORT}"] if c.metrics
               else ["--disable-monitoring"])
    return [binary("prysm-beacon", "beacon-chain"), f"--{c.network}", f"--datadir={CL_DATA}",
            "--accept-terms-of-use", f"--execution-endpoint={ENGINE_URL}", f"--jwt-secret={JWT_FILE}",
            f"--p2p-tcp-port={PRYSM_TCP_PORT}", f"--p2p-udp-port={PRYSM_UDP_PORT}",
            f"--p2p-quic-port={PRYSM_TCP_PORT}",
            f"--rpc-host={LOCAL}", f"--rpc-port={PRYSM_RPC_PORT}",
            f"--http-host={LOCAL}", f"--http-port={BEACON_API_PORT}",
            *checkpoint, *_on(c.builder, f"--http-mev-relay={MEV_BOOST_URL}"), *metrics]


def prysm_validator(c: Ctx) -> list[str]:
    metrics = ([f"--monitoring-host={LOCAL}", f"--monitoring-port={VALIDATOR_METRICS_PORT}"] if c.metrics
               else ["--disable-monitoring"])
    return [binary("prysm-validator", "validator"), f"--{c.network}", f"--datadir={VC_DATA}",
            "--accept-terms-of-use", f"--wallet-dir={VC_DATA}/wallet",
            f"--wallet-password-file={VC_DATA}/wallet-password.txt",
            f"--beacon-rpc-provider={LOCAL}:{PRYSM_RPC_PORT}",
            # the proposer settings file overrides --suggested-fee-recipient (prysm proposer settings loader):
            # the fee recipient is in the file, once
            (f"--proposer-settings-file={PRYSM_PROPOSER_SETTINGS}" if c.builders
             else f"--suggested-fee-recipient={c.fee_recipient}"),
            f"--graffiti={c.graffiti}",
            *_on(c.doppelganger, "--enable-doppelganger"), *_on(c.builder, "--enable-builder"), *metrics]


# lodestar: chainsafe.github.io/lodestar beacon-cli / validator-cli, packages/cli/src/options.
def lodestar_beacon(c: Ctx) -> list[str]:
    return [binary("lodestar", "lodestar"), "beacon", "--network", c.network, "--dataDir", CL_DATA,
            "--execution.urls", ENGINE_URL, "--jwtSecret", JWT_FILE, "--port", str(CL_P2P_PORT),
            "--rest", "--rest.address", LOCAL, "--rest.port", str(BEACON_API_PORT),
            *(["--checkpointSyncUrl", c.checkpoint_url] if c.checkpoint_url else []),
            *_on(c.builder, "--builder", "--builder.url", MEV_BOOST_URL),
            *_on(c.metrics, "--metrics", "--metrics.address", LOCAL, "--metrics.port", str(BEACON_METRICS_PORT))]


def lodestar_validator(c: Ctx) -> list[str]:
    return [binary("lodestar", "lodestar"), "validator", "--network", c.network, "--dataDir", VC_DATA,
            "--beaconNodes", BEACON_URL, "--suggestedFeeRecipient", c.fee_recipient, "--graffiti", c.graffiti,
            *_on(c.doppelganger, "--doppelgangerProtection"), *_on(c.builder, "--builder"),
            # ePBS builders (lodestar >= 1.47, #9832): comma-separated, bid floor in gwei (0 is its default)
            *_on(bool(c.builders), "--builder.urls", ",".join(c.builders)),
            *_on(c.builder_min_bid_gwei > 0, "--builder.minBid", str(c.builder_min_bid_gwei)),
            *_on(c.metrics, "--metrics", "--metrics.address", LOCAL, "--metrics.port",
                 str(VALIDATOR_METRICS_PORT))]


# nimbus: nimbus.guide options / trusted-node-sync / external-block-builder / validator-client.
NIMBUS_BN = binary("nimbus", "build/nimbus_beacon_node")


def nimbus_beacon(c: Ctx) -> list[str]:
    return [NIMBUS_BN, f"--network={c.network}", f"--data-dir={CL_DATA}", "--non-interactive",
            f"--el={ENGINE_URL}", f"--jwt-secret={JWT_FILE}", f"--tcp-port={CL_P2P_PORT}",
            f"--udp-port={CL_P2P_PORT}",
            # QUIC is on by default (nimbus-eth2 #8762) on UDP 9001; pinned here so the firewall matches.
            f"--quic-port={CL_QUIC_PORT}",
            "--rest=true", f"--rest-address={LOCAL}", f"--rest-port={BEACON_API_PORT}",
            *_on(c.builder, "--payload-builder=true", f"--payload-builder-url={MEV_BOOST_URL}"),
            *_on(c.metrics, "--metrics=true", f"--metrics-address={LOCAL}", f"--metrics-port={BEACON_METRICS_PORT}")]


NIMBUS_SYNC_STARTED = f"{CL_DATA}/.infrakit-trusted-sync-started"
NIMBUS_SYNC_DONE = f"{CL_DATA}/.infrakit-trusted-sync-done"
NIMBUS_START_TIMEOUT = 3600  # the state download of a trusted-node sync can take many minutes


def nimbus_checkpoint(c: Ctx) -> list[str] | None:
    """Nimbus syncs from a checkpoint with a separate command (trustedNodeSync) on an empty data dir.

    Success is marked explicitly: `db/` appears long before the sync finishes, so a run killed
    half-way (start timeout, reboot) must not count as done. Started-but-not-done means an
    interrupted run: its partial `db/` is removed and the sync runs again. A `db/` with neither
    marker predates the markers (synced before): it is kept and marked done.
    """
    if not c.checkpoint_url:
        return None
    script = (f"if [ -e {NIMBUS_SYNC_DONE} ]; then exit 0; fi; "
              f"if [ -d {CL_DATA}/db ] && [ ! -e {NIMBUS_SYNC_STARTED} ]; then touch {NIMBUS_SYNC_DONE}; exit 0; fi; "
              f"rm -rf {CL_DATA}/db && touch {NIMBUS_SYNC_STARTED} && "
              f"{NIMBUS_BN} trustedNodeSync --network={c.network} --data-dir={CL_DATA} "
              f"--trusted-node-url={c.checkpoint_url} --backfill=false && "
              f"touch {NIMBUS_SYNC_DONE} && rm -f {NIMBUS_SYNC_STARTED}")
    return ["/bin/sh", "-ec", script]


def nimbus_validator(c: Ctx) -> list[str]:
    return [binary("nimbus", "build/nimbus_validator_client"), f"--data-dir={VC_DATA}", "--non-interactive",
            f"--beacon-node={BEACON_URL}", f"--suggested-fee-recipient={c.fee_recipient}",
            f"--graffiti={c.graffiti}", f"--doppelganger-detection={str(c.doppelganger).lower()}",
            *_on(c.builder, "--payload-builder=true"),
            *_on(c.metrics, "--metrics=true", f"--metrics-address={LOCAL}",
                 f"--metrics-port={VALIDATOR_METRICS_PORT}")]


# mev-boost: flashbots/mev-boost README (-<network>, -addr, -relay-check, -relays, -min-bid).
def mev_boost(c: Ctx) -> list[str]:
    return [binary("mev-boost", "mev-boost"), f"-{c.network}", "-addr", f"{LOCAL}:{MEV_BOOST_PORT}",
            "-relay-check", "-relays", ",".join(c.relays),
            *(["-min-bid", f"{c.min_bid:g}"] if c.min_bid > 0 else [])]


EXECUTION: dict[str, Component] = {
    "geth": Component("execution", "geth", ("geth",), geth, stop_timeout=300),
    "nethermind": Component("execution", "nethermind", ("nethermind",), nethermind, jit=True, stop_timeout=300),
    "reth": Component("execution", "reth", ("reth",), reth, stop_timeout=300),
    "besu": Component("execution", "besu", ("besu", "jre"), besu, jit=True, environment=JAVA_ENV, stop_timeout=300),
}
BEACON: dict[str, Component] = {
    "lighthouse": Component("beacon", "lighthouse", ("lighthouse",), lighthouse_beacon),
    "teku": Component("beacon", "teku", ("teku", "jre"), teku_beacon, jit=True, environment=JAVA_ENV),
    "prysm": Component("beacon", "prysm", ("prysm-beacon",), prysm_beacon),
    "lodestar": Component("beacon", "lodestar", ("lodestar",), lodestar_beacon, jit=True),
    "nimbus": Component("beacon", "nimbus", ("nimbus",), nimbus_beacon, pre=nimbus_checkpoint,
                        start_timeout=NIMBUS_START_TIMEOUT),
}
# The exit status each validator client ends with when doppelganger protection finds its keys
# live elsewhere (CLIENTS.md says where each was read). Restarting then would sign beside the
# other instance, so systemd must not restart on it. Where a client uses the generic status 1,
# any exit 1 stops the restarts too: the safe direction for a signer (the eth-validator health
# check alerts, an operator decides).
DOPPELGANGER_EXIT = {"lighthouse": (1,), "teku": (1,), "prysm": (1,), "lodestar": (1,), "nimbus": (129,)}
VALIDATOR: dict[str, Component] = {
    "lighthouse": Component("validator", "lighthouse", ("lighthouse",), lighthouse_validator, stop_timeout=60,
                            restart_prevent=DOPPELGANGER_EXIT["lighthouse"], pre=lighthouse_builders),
    "teku": Component("validator", "teku", ("teku", "jre"), teku_validator, jit=True, environment=JAVA_ENV,
                      stop_timeout=60, restart_prevent=DOPPELGANGER_EXIT["teku"]),
    "prysm": Component("validator", "prysm", ("prysm-validator",), prysm_validator, stop_timeout=60,
                       restart_prevent=DOPPELGANGER_EXIT["prysm"]),
    "lodestar": Component("validator", "lodestar", ("lodestar",), lodestar_validator, jit=True, stop_timeout=60,
                          restart_prevent=DOPPELGANGER_EXIT["lodestar"]),
    "nimbus": Component("validator", "nimbus", ("nimbus",), nimbus_validator, stop_timeout=60,
                        restart_prevent=DOPPELGANGER_EXIT["nimbus"]),
}
MEV_BOOST = Component("mevboost", "mev-boost", ("mev-boost",), mev_boost, stop_timeout=30)


def _p(port: int, proto: str, purpose: str, exposure: str = "public") -> OpenPort:
    return OpenPort(port=port, protocol=proto, exposure=exposure, purpose=purpose)  # type: ignore[arg-type]


# Exactly what each client listens on publicly, given the flags above (the test compares the
# firewall with the rendered flags for every pair).
_EL_BASE = [_p(EL_P2P_PORT, "tcp", "execution p2p"), _p(EL_P2P_PORT, "udp", "execution discovery")]
EXECUTION_P2P: dict[str, list[OpenPort]] = {
    "geth": _EL_BASE,
    "nethermind": _EL_BASE,
    "reth": [*_EL_BASE, _p(RETH_DISCV5_PORT, "udp", "execution discovery v5")],
    "besu": _EL_BASE,
}
_CL_BASE = [_p(CL_P2P_PORT, "tcp", "beacon p2p"), _p(CL_P2P_PORT, "udp", "beacon discovery")]
_CL_QUIC = _p(CL_QUIC_PORT, "udp", "beacon quic")
BEACON_P2P: dict[str, list[OpenPort]] = {
    "lighthouse": [*_CL_BASE, _CL_QUIC],
    "teku": [*_CL_BASE, _CL_QUIC],
    "prysm": [_p(PRYSM_TCP_PORT, "tcp", "beacon p2p"), _p(PRYSM_UDP_PORT, "udp", "beacon discovery"),
              _p(PRYSM_TCP_PORT, "udp", "beacon quic")],
    "lodestar": [*_CL_BASE, _CL_QUIC],
    "nimbus": [*_CL_BASE, _CL_QUIC],
}
PRIVATE_PORTS = {
    "execution": [_p(EL_RPC_PORT, "tcp", "execution json-rpc on 127.0.0.1", "private"),
                  _p(ENGINE_PORT, "tcp", "engine api on 127.0.0.1 jwt", "private")],
    "execution_metrics": [_p(EL_METRICS_PORT, "tcp", "execution metrics on 127.0.0.1", "private")],
    "beacon": [_p(BEACON_API_PORT, "tcp", "beacon api on 127.0.0.1", "private")],
    "beacon_metrics": [_p(BEACON_METRICS_PORT, "tcp", "beacon metrics on 127.0.0.1", "private")],
    "prysm": [_p(PRYSM_RPC_PORT, "tcp", "prysm grpc on 127.0.0.1", "private")],
    "validator_metrics": [_p(VALIDATOR_METRICS_PORT, "tcp", "validator metrics on 127.0.0.1", "private")],
    "mevboost": [_p(MEV_BOOST_PORT, "tcp", "mev-boost on 127.0.0.1", "private")],
}
