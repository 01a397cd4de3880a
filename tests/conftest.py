"""Shared fixtures: stack config dictionaries with overrides, loaded stacks and plans."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from infrakit.config import RawConfig, Stack, load, read_stack_file

StackFactory = Callable[..., dict[str, Any]]


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@pytest.fixture
def stack_values() -> StackFactory:
    """The hardened-hcloud stack's values with deep overrides (None deletes a key)."""
    base = dict(read_stack_file("hardened-hcloud").values)

    def make(**overrides: Any) -> dict[str, Any]:
        return _merge(base, overrides)

    return make


def load_values(values: dict[str, Any], stack: str = "test", secure: frozenset[str] = frozenset()) -> Stack:
    return load(RawConfig(stack, values, secure))
