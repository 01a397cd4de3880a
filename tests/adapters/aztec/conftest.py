"""Fixtures for the Aztec adapter tests: the shipped stacks' values with deep overrides."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from adapters.registry import REGISTRY
from infrakit.config import RawConfig, Stack, load, read_stack_file
from tests.conftest import _merge

AztecValues = Callable[..., dict[str, Any]]
STACKS = {"dev": "aztec-dev", "node": "aztec-testnet-node"}


@pytest.fixture
def aztec_values() -> AztecValues:
    """Values of a shipped Aztec stack (`shipped` dev: aztec-dev, node: aztec-testnet-node) with deep
    overrides (None deletes a key)."""

    def make(shipped: str = "dev", **overrides: Any) -> dict[str, Any]:
        return _merge(copy.deepcopy(dict(read_stack_file(STACKS[shipped]).values)), overrides)

    return make


def aztec_stack(values: dict[str, Any], name: str = "aztec-test") -> Stack:
    return load(RawConfig(name, values), REGISTRY)
