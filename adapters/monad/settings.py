"""`infrakit:chainSettings` for chain: monad, as a pydantic model (camelCase keys, unknown keys
refused). Every value that reaches the host is checked for the place it lands in: node.toml
(TOML strings), the env file, a udev rule, shell parameters. Where each fact comes from:
adapters/monad/SOURCES.md.

    chainSettings:
      nodeName: acme-testnet-1                 # node.toml node_name ("<PROVIDER>-1" in the docs)
      beneficiary: 0x...                       # EIP-55 address that receives block rewards
      version: 0.16.3                          # the exact Debian version of `monad`; pinned and held
      allowDowngrade: false                    # true only to go back deliberately (never across a hard fork)
      peers:                                   # [[bootstrap.peers]] in node.toml
        - {address: "203.0.113.7:8000", secp256k1Pubkey: "02ab..."}
      triedb:
        device: /dev/disk/by-id/nvme-Samsung_SSD_990_PRO_2TB_S7DNNJ0X000000X   # never guessed
        force: false                           # true: repartition a device that is not blank
      nodeConfigBase: stacks/monad/testnet-node.toml   # the network's node.toml, minus the three keys above
      repository:                              # Category Labs' signed apt repository
        uri: https://pkg.category.xyz/
        suite: noble
        keyFile: adapters/monad/keys/category-labs.asc   # armored key, fetched and checked out of band
        keyFingerprint: <40 hex digits>
      osOverride: none                         # debian-12-lab: accept the Debian 12 lab host (tests only)
      hardwareChecks: enforce                  # report: print the findings, do not fail (lab only)
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from infrakit.artifacts.apt import DEB_VERSION
from infrakit.config import values
from infrakit.config.models import Model

ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
# node.toml is TOML: the name lands inside a basic string, so no quote, backslash or control.
NODE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
# A compressed secp256k1 public key as hex (33 bytes), as node.toml's peers list holds it.
PUBKEY_RE = re.compile(r"^(02|03)[0-9a-fA-F]{64}$")
# A by-id path: udev's stable names only (never /dev/nvme1n1, which can change across boots).
BY_ID_RE = re.compile(r"^/dev/disk/by-id/[A-Za-z0-9][A-Za-z0-9._:+-]{0,200}$")


def _keccak256(data: bytes) -> bytes:
    from Crypto.Hash import keccak  # noqa: PLC0415 - only stacks with a beneficiary need it

    return keccak.new(digest_bits=256, data=data).digest()


def _beneficiary(value: str) -> str:
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


def _node_name(value: str) -> str:
    if not NODE_NAME_RE.fullmatch(value):
        raise ValueError("expected 1-63 of letters, digits and ._- (starting with a letter or digit), e.g. acme-1")
    return value


def _peer_address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("expected HOST:PORT, e.g. 203.0.113.7:8000")
    values.host_name_or_address(host.strip("[]"))
    return value


def _by_id(value: str) -> str:
    if not BY_ID_RE.fullmatch(value):
        raise ValueError(
            "expected the drive's stable path under /dev/disk/by-id/ (ls -l /dev/disk/by-id/); kernel names "
            "such as /dev/nvme1n1 can change across reboots and the wrong disk would be wiped"
        )
    return value


def _key_file(value: str) -> str:
    """Read on the operator's machine: relative to the project, or absolute; no '..'."""
    if not value.endswith(".asc"):
        raise ValueError("expected an ASCII-armored key file ending in .asc")
    return values.absolute_path(value) if value.startswith("/") else values.relative_path(value)


def _toml_file(value: str) -> str:
    if not value.endswith(".toml"):
        raise ValueError("expected the network's node.toml (a .toml file)")
    return values.absolute_path(value) if value.startswith("/") else values.relative_path(value)


def _fingerprint(value: str) -> str:
    clean = value.replace(" ", "").upper()
    if not re.fullmatch(r"[0-9A-F]{40}", clean):
        raise ValueError("expected the key's full 40-hex-digit fingerprint (short key ids are forgeable)")
    return clean


Beneficiary = Annotated[str, AfterValidator(_beneficiary)]


class Peer(Model):
    """One [[bootstrap.peers]] entry: an upstream node that republishes blocks to this one."""

    address: Annotated[str, AfterValidator(_peer_address)]
    secp256k1_pubkey: Annotated[str, Field(pattern=PUBKEY_RE.pattern)]


class TrieDb(Model):
    """The dedicated NVMe drive for TrieDB. Prepared (GPT, one partition, udev symlink
    /dev/triedb) only when it holds no partition table or filesystem, or with force.
    `labNoDevice: true` (only with osOverride debian-12-lab): the lab's container hosts have
    no block device, so no TrieDB step is planned (its script is tested on a loop device)."""

    device: Annotated[str, AfterValidator(_by_id)] | None = None
    force: bool = False
    lab_no_device: bool = False

    @model_validator(mode="after")
    def _device_named(self) -> TrieDb:
        if self.lab_no_device:
            if self.device is not None or self.force:
                raise ValueError("labNoDevice takes no device and no force")
        elif self.device is None:
            raise ValueError("device: required (the drive's /dev/disk/by-id/ path; InfraKit never guesses a disk)")
        return self


def _repo_uri(value: str) -> str:
    """http(s): apt checks the InRelease signature either way (a lab serves plain http)."""
    scheme, sep, rest = value.partition("://")
    if scheme not in {"http", "https"} or not sep:
        raise ValueError("expected an http(s):// URL of the repository, e.g. https://pkg.category.xyz/")
    values.https_url("https://" + rest.rstrip("/"))
    return value


class Repository(Model):
    """Category Labs' apt repository; the key is pinned by file content AND fingerprint.
    Without a fingerprint the plan renders for review but is blocked (never trust on first use)."""

    uri: Annotated[str, AfterValidator(_repo_uri)] = "https://pkg.category.xyz/"
    suite: str = Field(default="noble", pattern=r"^[a-z][a-z0-9-]{0,30}$")
    components: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]] = Field(
        default_factory=lambda: ["main"], min_length=1
    )
    key_file: Annotated[str, AfterValidator(_key_file)] = "adapters/monad/keys/category-labs.asc"
    key_fingerprint: Annotated[str, AfterValidator(_fingerprint)] | None = None


class MonadSettings(Model):
    node_name: Annotated[str, AfterValidator(_node_name)]
    beneficiary: Beneficiary
    version: str = Field(pattern=DEB_VERSION)
    # The network's published node.toml (chain-wide keys), kept in the project and reviewed;
    # InfraKit adds node_name, beneficiary and [bootstrap] (which the file must not hold).
    node_config_base: Annotated[str, AfterValidator(_toml_file)] | None = None
    allow_downgrade: bool = False
    peers: list[Peer] = Field(default_factory=list, max_length=64)
    triedb: TrieDb
    repository: Repository = Repository()
    os_override: Literal["none", "debian-12-lab"] = "none"
    hardware_checks: Literal["enforce", "report"] = "enforce"

    @model_validator(mode="after")
    def _lab_only(self) -> MonadSettings:
        if self.triedb.lab_no_device and self.os_override != "debian-12-lab":
            raise ValueError("triedb.labNoDevice is for the lab only (it needs osOverride: debian-12-lab)")
        return self

    @field_validator("peers")
    @classmethod
    def _unique_peers(cls, peers: list[Peer]) -> list[Peer]:
        keys = [p.secp256k1_pubkey.lower() for p in peers]
        if len(set(keys)) != len(keys):
            raise ValueError("a peer's secp256k1Pubkey is listed twice")
        return peers
