"""The registered chains, as core sees them: built once by an entry point from the adapters
it imports (`adapters/registry.py`), then passed to `infrakit.config.load`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

from pydantic import BaseModel, ValidationError

from infrakit.chain.contract import NAME, AnyAdapter, Problem
from infrakit.config.errors import NAMESPACE, problems_from_validation
from infrakit.config.models import StackConfig
from infrakit.config.secrets import SECRET_KEYS

SETTINGS_KEY = f"{NAMESPACE}:chainSettings"
# A secret config key: camelCase, as the stack file's other keys (it becomes INFRAKIT_SECRET_<KEY>)
SECRET_KEY_NAME = r"^[a-z][A-Za-z0-9]{2,63}$"  # noqa: S105 - a name pattern, not a password


class RegistryError(ValueError):
    """An adapter that breaks the contract: a programming error, found when the registry is built."""


class Registry:
    """Chain adapters by name."""

    def __init__(self, adapters: Iterable[AnyAdapter]) -> None:
        self._adapters: dict[str, AnyAdapter] = {}
        self._secret_keys: dict[str, tuple[str, str]] = {}
        for adapter in adapters:
            _check_contract(adapter)
            if adapter.name in self._adapters:
                raise RegistryError(f"two adapters are named {adapter.name!r}")
            for key, purpose in adapter.secret_keys.items():
                if key in self._secret_keys:
                    owner = self._secret_keys[key][0]
                    raise RegistryError(f"secret key {key!r} is declared by both {owner!r} and {adapter.name!r}")
                self._secret_keys[key] = (adapter.name, purpose)
            self._adapters[adapter.name] = adapter

    def secret_keys(self) -> Mapping[str, tuple[str, str]]:
        """Every registered chain's secret keys: key -> (chain, what it is for)."""
        return dict(self._secret_keys)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._adapters))

    def get(self, chain: str) -> AnyAdapter:
        return self._adapters[chain]

    def __iter__(self) -> Iterator[AnyAdapter]:
        return iter(self._adapters.values())

    def resolve(self, config: StackConfig) -> tuple[AnyAdapter | None, BaseModel | None, list[Problem]]:
        """The stack's adapter and its validated settings, or the problems (chain, role,
        network, chainSettings, then the adapter's own checks), each naming its key."""
        adapter = self._adapters.get(config.chain)
        if adapter is None:
            known = ", ".join(self.names)
            return None, None, [(f"{NAMESPACE}:chain", f"unknown chain {config.chain!r} (expected one of: {known})")]
        problems: list[Problem] = []
        roles = [r.name for r in adapter.roles]
        if config.role not in roles:
            problems.append(
                (
                    f"{NAMESPACE}:role",
                    f"chain {adapter.name!r} has no role {config.role!r} (expected one of: {', '.join(roles)})",
                )
            )
        if config.network not in adapter.networks:
            problems.append(
                (
                    f"{NAMESPACE}:network",
                    f"chain {adapter.name!r} has no network {config.network!r} "
                    f"(expected one of: {', '.join(adapter.networks)})",
                )
            )
        settings: BaseModel | None = None
        if adapter.settings_model is None:
            if config.chain_settings:
                problems.append((SETTINGS_KEY, f"chain {adapter.name!r} takes no chain settings"))
        else:
            try:
                settings = adapter.settings_model.model_validate(config.chain_settings)
            except ValidationError as exc:
                return adapter, None, problems + _rekey(problems_from_validation(exc))
        return adapter, settings, problems + adapter.check(config, settings)


def _rekey(problems: list[Problem]) -> list[Problem]:
    """Pydantic names keys relative to chainSettings; name them from the stack's root."""
    out = []
    for key, message in problems:
        rest = key.removeprefix(f"{NAMESPACE}:").removeprefix("<root>")
        out.append((f"{SETTINGS_KEY}.{rest}" if rest else SETTINGS_KEY, message))
    return out


def _check_contract(adapter: AnyAdapter) -> None:
    where = f"adapter {type(adapter).__name__}"
    name = getattr(adapter, "name", None)
    if not isinstance(name, str) or not re.match(NAME, name):
        raise RegistryError(f"{where}: name must match {NAME}")
    if not adapter.roles or len({r.name for r in adapter.roles}) != len(adapter.roles):
        raise RegistryError(f"{where}: roles must be a non-empty tuple of distinct Role names")
    if not adapter.networks or len(set(adapter.networks)) != len(adapter.networks):
        raise RegistryError(f"{where}: networks must be a non-empty tuple of distinct names")
    model = adapter.settings_model
    if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise RegistryError(f"{where}: settings_model must be a pydantic model class or None")
    _check_secret_keys(where, adapter.secret_keys)


def _check_secret_keys(where: str, secret_keys: object) -> None:
    if not isinstance(secret_keys, Mapping):
        raise RegistryError(f"{where}: secret_keys must be a mapping of secret key -> what it is for")
    config_keys = {field.alias or name for name, field in StackConfig.model_fields.items()}
    for key, purpose in secret_keys.items():
        if not isinstance(key, str) or not re.match(SECRET_KEY_NAME, key):
            raise RegistryError(f"{where}: secret key {key!r} must match {SECRET_KEY_NAME}")
        if key in SECRET_KEYS:
            raise RegistryError(f"{where}: secret key {key!r} is core's (infrakit/config/secrets.py)")
        if key in config_keys:
            raise RegistryError(f"{where}: secret key {key!r} is a stack config key")
        if not isinstance(purpose, str) or not purpose.strip():
            raise RegistryError(f"{where}: secret key {key!r} needs a description (what it is for)")
