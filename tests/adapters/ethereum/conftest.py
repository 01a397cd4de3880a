"""Fixtures for the Ethereum adapter tests: a validator/node stack from the lab stack with overrides."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.registry import REGISTRY
from infrakit.artifacts.lock import LockEntry, LockFile, write_lock
from infrakit.config import RawConfig, Stack, load, read_stack_file
from tests.conftest import _merge

FEE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
EthStack = Callable[..., dict[str, Any]]


def base_values(role: str = "validator", network: str = "hoodi") -> dict[str, Any]:
    values = copy.deepcopy(dict(read_stack_file("hardened-hcloud").values))
    settings: dict[str, Any] = {"execution": {"client": "geth"}, "consensus": {"client": "lighthouse"}}
    if role == "validator":
        settings["validator"] = {"feeRecipient": FEE}
    values.update({"chain": "ethereum", "role": role, "network": network, "chainSettings": settings})
    return values


@pytest.fixture
def eth_values() -> EthStack:
    """Values of an Ethereum stack with deep overrides (None deletes a key)."""

    def make(role: str = "validator", network: str = "hoodi", **overrides: Any) -> dict[str, Any]:
        return _merge(base_values(role, network), overrides)

    return make


def eth_stack(values: dict[str, Any], name: str = "eth-test") -> Stack:
    return load(RawConfig(name, values), REGISTRY)


def write_test_lock(tmp: Path, versions: dict[str, list[str]]) -> Path:
    """A TEST lock file whose sha256s are computed from (fake) bytes, never typed in."""
    lock = LockFile(tmp / "test.lock.toml", {})
    for name, items in versions.items():
        for version in items:
            digest = hashlib.sha256(f"{name}-{version}".encode()).hexdigest()
            lock = lock.with_entry(LockEntry(name=name, version=version, status="locked", sha256=digest,
                                             url=f"https://example.invalid/{name}-{version}.tar.gz", size=1))
    write_lock(lock)
    return lock.path
