"""Secret config keys a chain adapter declares (`ChainAdapter.secret_keys`): core names no
chain's secret, and a chain's secret gets every protection core's own secrets get.

Why it matters: a validator's keystore password is the chain's most sensitive value. It must be
refused in plain text (and never echoed in the refusal), reach the host only on a step's stdin,
and be refused on a stack of a chain that does not read it; and adding a chain with a secret must
not mean editing core's list of names.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from adapters.registry import REGISTRY
from infrakit.chain import ChainParts, Registry
from infrakit.chain.registry import RegistryError
from infrakit.config import ConfigError, RawConfig, Stack, load
from infrakit.config.secrets import SECRET_KEYS
from infrakit.plan import Step, build_plan
from tests.infrakit.chain.test_registry import NoSettings, Toy, toy_values

UNSEAL = "vault-TEST-unseal-key-9c1e"  # a TEST secret value: it must never show up in an error


class Vault(Toy):
    """A test-only chain that reads one secret of its own on one step's stdin."""

    name: ClassVar[str] = "vault"
    secret_keys: ClassVar[dict[str, str]] = {"vaultUnsealKey": "unseal key of the TEST vault (stdin only)"}

    def parts(self, stack: Stack) -> ChainParts:
        secrets = {"UNSEAL_KEY": "vaultUnsealKey"} if "vaultUnsealKey" in stack.secrets else {}
        step = Step(
            name="vault_unseal",
            script="adapters/ethereum/scripts/smoke_test.sh",
            description="unseal",
            secrets=secrets,
        )
        return ChainParts(steps=[step], smoke_test="vault_unseal")


CHAINS = Registry([Vault(), Toy()])


def load_chain(chain: str, secure: frozenset[str] = frozenset(), **overrides: Any) -> Stack:
    return load(RawConfig(f"{chain}-test", toy_values(chain=chain, **overrides), secure), CHAINS)


def problems(chain: str, secure: frozenset[str] = frozenset(), **overrides: Any) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load_chain(chain, secure, **overrides)
    assert UNSEAL not in str(info.value), "a secret value must never be echoed in an error"
    return info.value.problems


def test_core_secret_keys_name_no_chain() -> None:
    """Core's list holds only what core reads; every chain's secret lives in its adapter."""
    for adapter in REGISTRY:
        if adapter.name == "none":
            continue
        for key, purpose in SECRET_KEYS.items():
            assert adapter.name not in key.lower(), f"core declares {key!r}, a secret of chain {adapter.name!r}"
            assert f"chain {adapter.name}" not in purpose.lower(), f"core's {key!r} is for chain {adapter.name!r}"


def test_monad_declares_its_keystore_password() -> None:
    assert "monadKeystorePassword" in REGISTRY.get("monad").secret_keys
    assert REGISTRY.secret_keys()["monadKeystorePassword"][0] == "monad"


def test_a_declared_secret_set_with_secure_reaches_only_its_step() -> None:
    stack = load_chain("vault", frozenset({"vaultUnsealKey", "alertWebhookUrl"}))
    assert sorted(stack.secrets) == ["alertWebhookUrl", "vaultUnsealKey"]
    assert stack.secret_keys.keys() == {*SECRET_KEYS, "vaultUnsealKey"}
    plan = build_plan(stack)
    assert plan.step("vault_unseal").step.secrets == {"UNSEAL_KEY": "vaultUnsealKey"}


def test_a_declared_secret_in_plain_text_is_refused_without_echoing_it() -> None:
    found = problems("vault", vaultUnsealKey=UNSEAL)
    assert ("infrakit:vaultUnsealKey", found[0][1]) in found and "is a secret" in found[0][1], found
    # a plain value is a leak whichever chain the stack runs: refused (not echoed) on any chain
    found = problems("toy", vaultUnsealKey=UNSEAL)
    assert any(k == "infrakit:vaultUnsealKey" and "is a secret" in m for k, m in found), found


def test_another_chains_secret_is_refused_naming_its_chain() -> None:
    found = problems("toy", frozenset({"vaultUnsealKey"}))
    assert found == [
        ("infrakit:vaultUnsealKey", "is a secret of chain 'vault'; chain 'toy' does not read it (remove it)")
    ]
    assert "vaultUnsealKey" not in load_chain("toy").secret_keys


def test_an_unknown_secure_key_lists_the_stacks_secret_keys() -> None:
    found = problems("vault", frozenset({"vaultUnsealKy"}))
    assert len(found) == 1 and found[0][0] == "infrakit:vaultUnsealKy", found
    assert "unknown secret key" in found[0][1] and "vaultUnsealKey" in found[0][1], found


@pytest.mark.parametrize(
    ("secret_keys", "message"),
    [
        ({"alertWebhookUrl": "mine"}, "secret key 'alertWebhookUrl' is core's"),
        ({"chainSettings": "mine"}, "secret key 'chainSettings' is a stack config key"),
        ({"bad-key": "mine"}, "secret key 'bad-key' must match"),
        ({"goodKey": ""}, "secret key 'goodKey' needs a description"),
        (("goodKey",), "secret_keys must be a mapping"),
    ],
)
def test_a_bad_secret_key_declaration_fails_when_registered(secret_keys: Any, message: str) -> None:
    broken = type("Broken", (NoSettings,), {"secret_keys": secret_keys})()
    with pytest.raises(RegistryError, match=message):
        Registry([broken])


def test_two_chains_declaring_one_secret_key_are_refused() -> None:
    other = type("Other", (Vault,), {"name": "other"})()
    with pytest.raises(RegistryError, match="secret key 'vaultUnsealKey' is declared by both 'vault' and 'other'"):
        Registry([Vault(), other])
