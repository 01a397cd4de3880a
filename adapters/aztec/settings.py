"""`infrakit:chainSettings` for chain: aztec, as a pydantic model (camelCase keys, unknown keys
refused). Every value that reaches the host is checked for the place it lands in: unit
Environment= lines and the aztec CLI's own comma-separated URL lists, shell parameters, npm's
command line. Where each fact comes from: adapters/aztec/SOURCES.md.

    chainSettings:
      version: 4.1.2                    # @aztec/aztec, exact; locks/aztec-<version>.package-lock.json pins the tree
      allowDowngrade: false             # true only to go back deliberately
      registry: https://registry.npmjs.org/   # npm registry (or a mirror) that `npm ci` fetches from
      runtimeMirror: null               # npm-shaped mirror for the node and npm tarballs (default: registry)
      registryCaFile: null              # PEM bundle npm trusts (behind a TLS-inspecting proxy)
      dev:                              # role dev
        user: dev                       # the developer's account (created; runs the pinned toolchain)
        anvil: true                     # @foundry-rs/anvil-linux-amd64 (pinned) on PATH: the local L1
      node:                             # role node (and sequencer)
        l1ExecutionUrls: [https://el-1.example.org, https://el-2.example.org]   # failover, in order
        l1ConsensusUrls: [https://cl-1.example.org]
        p2pIp: 203.0.113.7              # the public IPv4 announced to peers (optional)
        p2pPort: 40400                  # public, tcp+udp
        apiPort: 8080                   # private (the host firewall: not opened)
        adminPort: 8880                 # private; API key generated on the host
        syncMode: snapshot              # snapshot | full
        logLevel: info
      sequencer:                        # role sequencer: keys designed, role not yet implemented
        coinbase: 0x...                 # EIP-55 L1 address that receives L1 rewards
        feeRecipient: 0x...             # 32-byte Aztec address that receives L2 fees
        keystoreSecret: aztecValidatorKeystore   # secret config key holding the keystore JSON
      osOverride: none                  # debian-12-lab: accept the lab's Debian 12 (tests only)
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import AfterValidator, Field, model_validator

from infrakit.artifacts.npm import SEMVER
from infrakit.config import values
from infrakit.config.models import Model

ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
AZTEC_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
SECRET_KEY_RE = re.compile(r"^aztec[A-Z][A-Za-z0-9]{2,40}$")
# A URL as it lands in ETHEREUM_HOSTS / L1_CONSENSUS_HOST_URLS (comma-separated, in a unit's
# Environment= line): host, optional port, plain path. No comma, quote, space, '%', '$',
# credentials, query or fragment (an API key in a URL would sit in plaintext state).
ENDPOINT_RE = re.compile(r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$")


def _endpoint(value: str) -> str:
    if not ENDPOINT_RE.fullmatch(value):
        raise ValueError(
            "expected an http(s):// URL of host, optional port and plain path, e.g. https://el-1.example.org:8545 "
            "(no credentials, query, comma, quote or space: a provider key in the URL would be stored in plaintext)"
        )
    parsed = urlparse(value)
    host = parsed.hostname or ""
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise ValueError("port must be within 1-65535")
    if not host.startswith("[") and ":" not in host:
        values.host_name_or_address(host)
    return value.rstrip("/") if parsed.path in {"", "/"} else value


Endpoint = Annotated[str, AfterValidator(_endpoint)]


def _endpoints(urls: list[str]) -> list[str]:
    if len({u.lower() for u in urls}) != len(urls):
        raise ValueError("an endpoint is listed twice (failover needs distinct endpoints)")
    return urls


def _public_ipv4(value: str) -> str:
    try:
        ip = ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError("expected the host's public IPv4 address, e.g. 203.0.113.7 (Aztec's P2P_IP is IPv4)") from None
    if ip.is_unspecified or ip.is_loopback or ip.is_multicast:
        raise ValueError("expected the address peers reach this node at, not 0.0.0.0, loopback or multicast")
    return str(ip)


def _keccak256(data: bytes) -> bytes:
    from Crypto.Hash import keccak  # noqa: PLC0415 - only sequencer stacks need it

    return keccak.new(digest_bits=256, data=data).digest()


def _l1_address(value: str) -> str:
    if not ADDRESS_RE.fullmatch(value):
        raise ValueError("expected a 0x-prefixed 20-byte hex address (EIP-55 checksummed)")
    body = value[2:]
    digest = _keccak256(body.lower().encode()).hex()
    checksummed = "".join(c.upper() if int(digest[i], 16) >= 8 else c.lower() for i, c in enumerate(body))
    if body != checksummed:
        raise ValueError(f"not EIP-55 checksummed (expected 0x{checksummed}); a typo here sends rewards away")
    if int(body, 16) == 0:
        raise ValueError("the zero address burns the rewards; give an address you control")
    return value


def _aztec_address(value: str) -> str:
    if not AZTEC_ADDRESS_RE.fullmatch(value):
        raise ValueError("expected a 0x-prefixed 32-byte hex Aztec address (64 hex digits)")
    if int(value, 16) == 0:
        raise ValueError("the zero address burns the fees; give an Aztec address you control")
    return value.lower()


def _registry(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise ValueError("expected the http(s) URL of the npm registry or a mirror, e.g. https://registry.npmjs.org/")
    if parsed.username or parsed.password or parsed.query or parsed.fragment or any(c.isspace() for c in value):
        raise ValueError("the registry URL takes no credentials, query, fragment or space")
    if parsed.scheme == "http" and not _lab_or_loopback(parsed.hostname):
        raise ValueError("plain http only for a loopback or lab mirror; use https")
    return value if value.endswith("/") else value + "/"


def _lab_or_loopback(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip in ipaddress.ip_network("10.199.0.0/16")


def _user(value: str) -> str:
    if value in {"root", "aztec", "nobody"}:
        raise ValueError(f"{value!r} is not a developer account; name the person's own account, e.g. dev")
    return value


class Dev(Model):
    """Role dev: the developer's account and the local tools beside the CLI."""

    user: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$"), AfterValidator(_user)] = "dev"
    # anvil from @foundry-rs/anvil-linux-amd64 (pinned by its lockfile) on PATH: `aztec start --local-network`
    # starts it as its L1 (on 127.0.0.1:8545) and fails without it.
    anvil: bool = True


class Node(Model):
    """Role node: an Aztec full node (`aztec start --node --archiver`) under systemd."""

    l1_execution_urls: Annotated[list[Endpoint], Field(min_length=1, max_length=8), AfterValidator(_endpoints)]
    l1_consensus_urls: Annotated[list[Endpoint], Field(min_length=1, max_length=8), AfterValidator(_endpoints)]
    p2p_ip: Annotated[str, AfterValidator(_public_ipv4)] | None = None
    p2p_port: int = Field(default=40400, ge=1024, le=65535)
    api_port: int = Field(default=8080, ge=1024, le=65535)
    admin_port: int = Field(default=8880, ge=1024, le=65535)
    sync_mode: Literal["snapshot", "full"] = "snapshot"
    log_level: Literal["fatal", "error", "warn", "info", "verbose", "debug"] = "info"

    @model_validator(mode="after")
    def _distinct_ports(self) -> Node:
        if len({self.p2p_port, self.api_port, self.admin_port}) != 3:
            raise ValueError("p2pPort, apiPort and adminPort must be three different ports")
        return self


class Sequencer(Model):
    """Role sequencer (designed, not yet implemented: the role is refused with a pointer to the
    runbook). Keys never appear here: the keystore JSON comes from a secret config key and
    would reach the host on stdin, written 0600 into the node's key store directory."""

    coinbase: Annotated[str, AfterValidator(_l1_address)]
    fee_recipient: Annotated[str, AfterValidator(_aztec_address)]
    keystore_secret: str = Field(default="aztecValidatorKeystore", pattern=SECRET_KEY_RE.pattern)
    publisher_secret: str | None = Field(default=None, pattern=SECRET_KEY_RE.pattern)


class AztecSettings(Model):
    version: str = Field(pattern=SEMVER)
    allow_downgrade: bool = False
    registry: Annotated[str, AfterValidator(_registry)] = "https://registry.npmjs.org/"
    runtime_mirror: Annotated[str, AfterValidator(_registry)] | None = None
    # A PEM bundle on the host that npm trusts instead of Node's built-in CA list: behind a
    # TLS-inspecting proxy, the system store (/etc/ssl/certs/ca-certificates.crt) once the
    # proxy's CA is in it.
    registry_ca_file: Annotated[str, AfterValidator(values.absolute_path)] | None = None
    dev: Dev | None = None
    node: Node | None = None
    sequencer: Sequencer | None = None
    # debian-12-lab: accept the lab's Debian 12 host (glibc 2.36), where the CLI runs but Aztec's
    # prover binary (bb, glibc >= 2.39) cannot; the smoke test then reports bb instead of failing.
    os_override: Literal["none", "debian-12-lab"] = "none"
