"""The registry and the adapter contract, with test adapters: core works with any chain that
keeps the contract, and an adapter that breaks it fails when the registry is built."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from infrakit.chain import ChainAdapter, ChainParts, Problem, Registry, Role
from infrakit.chain.registry import RegistryError
from infrakit.config import ConfigError, RawConfig, Stack, load, read_stack_file
from infrakit.config.models import StackConfig
from infrakit.plan import Step, build_plan


class ToySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greeting: str = "hello"
    mode: int = 1


class Toy(ChainAdapter[ToySettings]):
    """A test-only chain: one key-holding role, typed settings, a smoke step."""

    name: ClassVar[str] = "toy"
    roles: ClassVar[tuple[Role, ...]] = (Role(name="watcher"), Role(name="signer", holds_keys=True))
    networks: ClassVar[tuple[str, ...]] = ("toynet",)
    settings_model: ClassVar[type[BaseModel] | None] = ToySettings
    runbook: ClassVar[str | None] = "runbooks/hardened-host.md"

    def check(self, config: StackConfig, settings: ToySettings | None) -> list[Problem]:
        assert settings is not None
        if config.role == "watcher" and settings.mode == 2:
            return [("infrakit:chainSettings.mode", "mode 2 is for signers only")]
        return []

    def parts(self, stack: Stack) -> ChainParts:
        settings = self.settings(stack)
        smoke = Step(
            name="toy_smoke", script="adapters/ethereum/scripts/smoke_test.sh", description=f"say {settings.greeting}"
        )
        return ChainParts(steps=[smoke], smoke_test="toy_smoke", data_dirs=["/var/lib/toy"])


class NoSettings(ChainAdapter[BaseModel]):
    name: ClassVar[str] = "bare"
    roles: ClassVar[tuple[Role, ...]] = (Role(name="host"),)
    networks: ClassVar[tuple[str, ...]] = ("none",)

    def parts(self, stack: Stack) -> ChainParts:
        return ChainParts()


CHAINS = Registry([Toy(), NoSettings()])


def toy_values(**overrides: Any) -> dict[str, Any]:
    values = dict(read_stack_file("hardened-hcloud").values)
    values.update({"chain": "toy", "role": "signer", "network": "toynet", "chainSettings": {"greeting": "hi"}})
    values.update(overrides)
    return values


def load_toy(**overrides: Any) -> Stack:
    return load(RawConfig("toy-test", toy_values(**overrides)), CHAINS)


def problems_of(**overrides: Any) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load_toy(**overrides)
    return info.value.problems


def test_the_loader_resolves_the_adapter_and_types_its_settings() -> None:
    stack = load_toy()
    assert isinstance(stack.adapter, Toy)
    assert stack.adapter.settings(stack) == ToySettings(greeting="hi")


def test_a_key_holding_role_is_protected_by_default_and_in_the_plan() -> None:
    """Replaces the string test `"validator" in role`: the adapter says which roles hold keys."""
    signer, watcher = load_toy(), load_toy(role="watcher")
    assert (signer.holds_keys, signer.protected) == (True, True)
    assert (watcher.holds_keys, watcher.protected) == (False, False)
    assert build_plan(signer).protected and build_plan(signer).holds_keys
    explicit = dict(toy_values()["host"], protection=False)
    assert load_toy(host=explicit).protected is False


def test_the_plan_carries_the_chain_parts_and_its_smoke_test() -> None:
    plan = build_plan(load_toy())
    assert plan.smoke_test == "toy_smoke" and plan.step("toy_smoke").step.description == "say hi"


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"chain": "solana"}, "infrakit:chain", "unknown chain 'solana' (expected one of: bare, toy)"),
        ({"role": "miner"}, "infrakit:role", "expected one of: watcher, signer"),
        ({"network": "mainnet"}, "infrakit:network", "expected one of: toynet"),
        ({"chainSettings": {"greting": "x"}}, "infrakit:chainSettings.greting", "unknown key"),
        ({"chainSettings": {"mode": "two"}}, "infrakit:chainSettings.mode", "integer"),
        ({"role": "watcher", "chainSettings": {"mode": 2}}, "infrakit:chainSettings.mode", "signers only"),
        ({"chain": "bare", "role": "host", "network": "none"}, "infrakit:chainSettings", "takes no chain settings"),
    ],
)
def test_chain_problems_name_the_key_from_the_stack_root(overrides: dict[str, Any], key: str, message: str) -> None:
    problems = problems_of(**overrides)
    assert any(k == key and message in m for k, m in problems), problems


def test_a_smoke_test_that_is_not_one_of_the_steps_is_refused() -> None:
    class Liar(Toy):
        name: ClassVar[str] = "liar"

        def parts(self, stack: Stack) -> ChainParts:
            return ChainParts(smoke_test="nowhere")

    stack = load(RawConfig("liar", toy_values(chain="liar")), Registry([Liar()]))
    with pytest.raises(ConfigError, match="smoke test 'nowhere' is not one of its steps"):
        build_plan(stack)


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"name": "Bad Name"}, "name must match"),
        ({"roles": ()}, "roles must be"),
        ({"roles": (Role(name="a"), Role(name="a"))}, "roles must be"),
        ({"networks": ()}, "networks must be"),
        ({"settings_model": dict}, "settings_model must be"),
    ],
)
def test_an_adapter_that_breaks_the_contract_fails_when_registered(attrs: dict[str, Any], message: str) -> None:
    broken = type("Broken", (NoSettings,), attrs)()
    with pytest.raises(RegistryError, match=message):
        Registry([broken])


def test_two_adapters_with_one_name_are_refused() -> None:
    with pytest.raises(RegistryError, match="two adapters are named 'toy'"):
        Registry([Toy(), Toy()])
