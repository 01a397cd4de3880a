"""`infrakit:chainSettings` for chain: ethereum, as a pydantic model (camelCase keys, unknown
keys refused). Every default is the safe one: checkpoint sync on, doppelganger protection
on, the validator client installed but not enabled, RPC bound to localhost.

    chainSettings:
      execution: {client: geth}                    # geth | nethermind | reth | besu; archive: false
                                                   # (archive: true keeps all history; reth only)
      consensus: {client: lighthouse}              # lighthouse | teku | prysm | lodestar | nimbus
                                                   # checkpointSync: true, checkpointSyncUrl: <override>
      validator:                                   # role validator only
        enabled: false                             # phase 2: true once keys are imported
        feeRecipient: 0x...                        # required, EIP-55 checksummed
        graffiti: infrakit
        doppelganger: true
      mevBoost:                                    # role validator only; before Glamsterdam (ePBS) only:
        enabled: true                              # default off where ePBS is active (sepolia)
        relays: [https://0x<pubkey>@relay...]      # default: the network's list
        minBid: 0.0                                # ETH; below it the local block is used
      builders:                                    # role validator only; ePBS (Glamsterdam) external builders,
        urls: [https://builder.example]            # asked for bids from the fork on (lighthouse, prysm, lodestar;
        minBidGwei: 0                              # SOURCES.md); p2p bids are always considered. Only trustless
                                                   # payments count (max execution payment 0, not configurable)
      artifacts:
        baseUrl: https://mirror.example/artifacts  # serve <name>/<version>/<file> instead of upstream
        lockFile: path/to/artifacts.lock.toml      # default adapters/ethereum/artifacts.lock.toml
      versions: {geth: 1.16.7}                     # pin another locked version than versions.toml
      metrics: true                                # Prometheus endpoints on 127.0.0.1
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from adapters.ethereum.eip55 import check_address
from infrakit.config.models import Model
from infrakit.config.values import absolute_path, relative_path

ExecutionClient = Literal["geth", "nethermind", "reth", "besu"]
ConsensusClient = Literal["lighthouse", "teku", "prysm", "lodestar", "nimbus"]
RELAY_RE = re.compile(r"^https?://0x[0-9a-f]{96}@[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/?=&%-]*)?$")
URL_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%-]*)?$")
# Passed as the argument after --graffiti: never starting with '-' (it would read as a flag).
# An ePBS builder: https (no credentials, query, fragment or comma: lodestar splits on commas and reads a
# fragment as auth data), or plain http to a sidecar on this host's loopback.
BUILDER_URL_RE = re.compile(
    r"^(https://[A-Za-z0-9.-]+|http://(127\.0\.0\.1|localhost))(:[0-9]{1,5})?(/[A-Za-z0-9._~/%-]*)?$")
MAX_BUILDERS = 8
MAX_BUILDER_URL = 256
GWEI_PER_ETH = 10**9
GRAFFITI_RE = re.compile(r"^([A-Za-z0-9._:/+@][A-Za-z0-9 ._:/+@-]{0,31})?$")


def _address(value: str) -> str:
    problem = check_address(value)
    if problem:
        raise ValueError(problem)
    return value


def _url(value: str) -> str:
    if not URL_RE.fullmatch(value):
        raise ValueError("expected an http(s) URL without credentials or query, e.g. https://host/path")
    return value.rstrip("/")


def _relay(value: str) -> str:
    if not RELAY_RE.fullmatch(value):
        raise ValueError("expected https://0x<96 hex digits of the relay's BLS public key>@<relay host>")
    return value


def _builder_url(value: str) -> str:
    if len(value) > MAX_BUILDER_URL or not BUILDER_URL_RE.fullmatch(value):
        raise ValueError(f"expected https://host[:port][/path] (at most {MAX_BUILDER_URL} characters; no "
                         "credentials, query, fragment or comma), or http:// to 127.0.0.1/localhost")
    return value.rstrip("/")


def _lock_file(value: str) -> str:
    """Read on the operator's machine: absolute, or relative to the project; no '..'."""
    if not value.endswith(".toml"):
        raise ValueError("expected a .toml file")
    return absolute_path(value) if value.startswith("/") else relative_path(value)


Url = Annotated[str, AfterValidator(_url)]
Relay = Annotated[str, AfterValidator(_relay)]
Address = Annotated[str, AfterValidator(_address)]
BuilderUrl = Annotated[str, AfterValidator(_builder_url)]


class ExecutionSettings(Model):
    client: ExecutionClient = "geth"
    archive: bool = False


class ConsensusSettings(Model):
    client: ConsensusClient = "lighthouse"
    checkpoint_sync: bool = True
    checkpoint_sync_url: Url | None = None


class ValidatorSettings(Model):
    """Phase 1 installs the validator client stopped and disabled; after the keys are imported
    (`ik-eth-validator import-keys`), phase 2 sets enabled: true and applies again."""

    enabled: bool = False
    fee_recipient: Address
    graffiti: str = "infrakit"
    doppelganger: bool = True

    @field_validator("graffiti")
    @classmethod
    def _graffiti(cls, value: str) -> str:
        if not GRAFFITI_RE.fullmatch(value):
            raise ValueError("at most 32 of letters, digits, space and ._:/+@-, not starting with - or space")
        return value


class MevBoostSettings(Model):
    enabled: bool | None = None  # default: on, except where ePBS (Glamsterdam) is active
    relays: list[Relay] | None = Field(default=None, min_length=1)
    min_bid: float = Field(default=0.0, ge=0.0, le=1.0)


class BuilderSettings(Model):
    """External ePBS builders the validator client asks for bids from the Glamsterdam fork on.

    Bids are compared with the locally built block; `minBidGwei` is passed as each client's bid floor
    (lighthouse ranks a lower bid last, lodestar discards it; runbook). The trusted (off-protocol)
    execution payment never counts (max_execution_payment 0 for every client): only the
    protocol-enforced payment is owed.
    """

    urls: list[BuilderUrl] = Field(min_length=1, max_length=MAX_BUILDERS)
    min_bid_gwei: int = Field(default=0, ge=0, le=GWEI_PER_ETH)

    @field_validator("urls")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        seen = [url for i, url in enumerate(value) if url in value[:i]]
        if seen:
            raise ValueError(f"{seen[0]} is listed twice")
        return value


class ArtifactSettings(Model):
    base_url: Url | None = None
    lock_file: Annotated[str, AfterValidator(_lock_file)] | None = None


class EthereumSettings(Model):
    execution: ExecutionSettings = ExecutionSettings()
    consensus: ConsensusSettings = ConsensusSettings()
    validator: ValidatorSettings | None = None
    mev_boost: MevBoostSettings | None = None
    builders: BuilderSettings | None = None
    artifacts: ArtifactSettings = ArtifactSettings()
    versions: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")],
                   Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,40}$")]] = Field(default_factory=dict)
    metrics: bool = True
