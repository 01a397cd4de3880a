"""Fixtures for the Monad adapter tests: a Monad stack (existing target) with deep overrides, a
TEST repository key (throwaway gpg key, made once per session) and a TEST node.toml base."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.registry import REGISTRY
from infrakit.config import RawConfig, Stack, load, read_stack_file
from tests.conftest import _merge
from tests.infrakit.artifacts.aptrepo import Keys

BENEFICIARY = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
PASSWORD = "monad-TEST-keystore-password-7f3a"
# A TEST stand-in for the network's node.toml: chain-wide keys only (the real one is published by
# Monad per network; see adapters/monad/SOURCES.md).
TEST_BASE = (
    'network_name = "testnet"\nchain_id = 10143\n\n[network]\nbind_address_host = "0.0.0.0"\nbind_address_port = 8000\n'
)
MonadValues = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def repo_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """(armored key file, fingerprint) of a throwaway TEST signing key."""
    home = tmp_path_factory.mktemp("gnupg")
    with Keys(home) as keys:
        fingerprint = keys.create("monad-test@infrakit.invalid")
        path = tmp_path_factory.mktemp("keys") / "category-labs-TEST.asc"
        path.write_text(keys.armored(fingerprint))
        yield path, fingerprint


@pytest.fixture(scope="session")
def node_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("monad") / "testnet-node.toml"
    path.write_text(TEST_BASE)
    return path


def base_values(role: str, key: tuple[Path, str], base: Path) -> dict[str, Any]:
    values = copy.deepcopy(dict(read_stack_file("hardened-existing").values))
    values.update(
        {
            "chain": "monad",
            "role": role,
            "network": "testnet",
            "chainSettings": {
                "nodeName": "infrakit-test-1",
                "beneficiary": BENEFICIARY,
                "version": "0.16.3",
                "peers": [{"address": "203.0.113.7:8000", "secp256k1Pubkey": "02" + "ab" * 32}],
                "triedb": {"device": "/dev/disk/by-id/nvme-TEST_DRIVE_0001"},
                "nodeConfigBase": str(base),
                "repository": {"uri": "https://pkg.category.xyz/", "keyFile": str(key[0]), "keyFingerprint": key[1]},
            },
        }
    )
    return values


@pytest.fixture
def monad_values(repo_key: tuple[Path, str], node_base: Path) -> MonadValues:
    """Values of a complete Monad stack with deep overrides (None deletes a key)."""

    def make(role: str = "validator", **overrides: Any) -> dict[str, Any]:
        return _merge(base_values(role, repo_key, node_base), overrides)

    return make


def monad_stack(values: dict[str, Any], name: str = "monad-test", secret: bool = True) -> Stack:
    return load(RawConfig(name, values, frozenset({"monadKeystorePassword"} if secret else set())), REGISTRY)
