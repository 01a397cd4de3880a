"""The shipped registry: every registered adapter keeps the parts of the contract a type cannot check."""

from __future__ import annotations

import pytest

from adapters.registry import ADAPTERS, REGISTRY
from infrakit.chain import ChainAdapter
from infrakit.plan.sources import PROJECT_ROOT


def test_every_chain_is_registered_once() -> None:
    assert REGISTRY.names == ("aztec", "ethereum", "monad", "none")
    assert all(isinstance(a, ChainAdapter) for a in ADAPTERS)


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)
def test_every_adapter_has_a_runbook(adapter: ChainAdapter) -> None:  # type: ignore[type-arg]
    assert adapter.runbook is not None and (PROJECT_ROOT / adapter.runbook).is_file()


def test_only_the_validator_roles_hold_keys() -> None:
    holding = {(a.name, r.name) for a in ADAPTERS for r in a.roles if r.holds_keys}
    assert holding == {("aztec", "sequencer"), ("ethereum", "validator"), ("monad", "validator")}
