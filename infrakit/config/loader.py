"""Load a stack's `infrakit:` config from its stack file or from the Pulumi engine.

Both sources produce the same `RawConfig`; `load()` validates it into a `Stack` or raises
one `ConfigError` listing every problem, each naming the stack and the key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ValidationError

from infrakit.config import values
from infrakit.config.errors import NAMESPACE, ConfigError, problems_from_validation
from infrakit.config.models import StackConfig
from infrakit.config.published_keys import published_key_problems
from infrakit.config.secrets import SECRET_KEYS, SecretRef
from infrakit.project import current

if TYPE_CHECKING:
    from infrakit.chain.contract import AnyAdapter
    from infrakit.chain.registry import Registry


@dataclass(frozen=True)
class RawConfig:
    """The `infrakit:` keys of one stack (namespace stripped) and which of them are secure."""

    stack: str
    values: Mapping[str, Any]
    secure: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Stack:
    """A validated stack: its name, its config, its chain's adapter with the validated
    `chainSettings` (None when the chain takes none), and the secrets it sets (names only)."""

    name: str
    config: StackConfig
    adapter: AnyAdapter
    settings: BaseModel | None = None
    secrets: Mapping[str, SecretRef] = field(default_factory=dict)

    @property
    def secret_keys(self) -> Mapping[str, str]:
        """The secret keys this stack may set: core's and its chain's (key -> what it is for)."""
        return {**SECRET_KEYS, **self.adapter.secret_keys}

    @property
    def holds_keys(self) -> bool:
        """The stack's role holds keys that must never be lost or run twice (the adapter says)."""
        return self.adapter.role(self.config.role).holds_keys

    @property
    def protected(self) -> bool:
        """Delete/rebuild protection: `host.protection` if set, else on for key-holding roles."""
        explicit = self.config.host.protection
        return self.holds_keys if explicit is None else explicit


def _stacks_dir(stacks_dir: Path | None) -> Path:
    """Default: the stack folder of the current project (infrakit.project: --project or cwd)."""
    return stacks_dir if stacks_dir is not None else current().stacks_dir


def stack_file(stack: str, stacks_dir: Path | None = None) -> Path:
    return _stacks_dir(stacks_dir) / f"Pulumi.{stack}.yaml"


def list_stacks(stacks_dir: Path | None = None) -> list[str]:
    found = _stacks_dir(stacks_dir).glob("Pulumi.*.yaml")
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in found)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last one)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, (str, int, float, bool)) and key in seen:
            raise ConfigFileError(
                f"key {key!r} appears twice in one mapping (lines {seen[key] + 1} and "
                f"{key_node.start_mark.line + 1}); keep one"
            )
        if isinstance(key, (str, int, float, bool)):
            seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


class ConfigFileError(Exception):
    """A stack file that cannot be read as a stack file (raised while parsing)."""


def parse_stack_document(data: bytes) -> dict[str, Any]:
    """The stack file's `config:` mapping, or ConfigFileError saying what is wrong with it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from None
    if not text.strip():
        raise ConfigFileError("the file is empty; a stack file has a 'config:' mapping of infrakit:<key> entries")
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"not valid YAML: {exc}") from None
    if doc is None:
        raise ConfigFileError("the file is empty (only comments); a stack file has a 'config:' mapping "
                              "of infrakit:<key> entries")
    if not isinstance(doc, dict):
        raise ConfigFileError(f"expected a mapping with a 'config:' key at the top (got {type(doc).__name__})")
    if "config" not in doc:
        raise ConfigFileError("no 'config:' key: the stack's settings go under config: as infrakit:<key> entries")
    config = doc["config"]
    if not isinstance(config, dict):
        raise ConfigFileError(f"'config:' must be a mapping of infrakit:<key> entries (got {type(config).__name__})")
    return config


def read_stack_file(stack: str, stacks_dir: Path | None = None) -> RawConfig:
    try:
        values.stack_name(stack)
    except ValueError as exc:
        raise ConfigError(repr(stack), [("stack name", str(exc))]) from None
    stacks_dir = _stacks_dir(stacks_dir)
    path = stack_file(stack, stacks_dir)
    if not path.is_file():
        known = ", ".join(list_stacks(stacks_dir)) or "none"
        raise ConfigError(stack, [(str(path), f"no such stack file (stacks here: {known})")])
    try:
        config = parse_stack_document(path.read_bytes())
    except ConfigFileError as exc:
        raise ConfigError(stack, [(str(path), str(exc))]) from None
    except OSError as exc:
        raise ConfigError(stack, [(str(path), f"cannot read: {exc.strerror}")]) from None
    values_: dict[str, Any] = {}
    secure: set[str] = set()
    for full_key, value in config.items():
        ns, _, key = str(full_key).partition(":")
        if ns != NAMESPACE:
            continue  # provider config such as hcloud:token belongs to the provider
        if isinstance(value, dict) and set(value) == {"secure"}:
            secure.add(key)
            continue
        values_[key] = value
    return RawConfig(stack, values_, frozenset(secure))


def from_pulumi_engine() -> RawConfig:
    """The config the Pulumi engine passes this program (stack file, `-c`, ESC, ...)."""
    import pulumi  # noqa: PLC0415 - only the Pulumi program needs the engine; the CLI must not
    from pulumi.runtime import config as runtime_config  # noqa: PLC0415

    values: dict[str, Any] = {}
    secure: set[str] = set()
    secret_keys = set(runtime_config.get_config_secret_keys_env()) | set(runtime_config._SECRET_KEYS.get())
    everything = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    for full_key, value in everything.items():
        ns, _, key = str(full_key).partition(":")
        if ns != NAMESPACE:
            continue
        if full_key in secret_keys:
            secure.add(key)
            continue
        values[key] = _decode(value)
    return RawConfig(pulumi.get_stack(), values, frozenset(secure))


def _decode(value: Any) -> Any:
    """Pulumi hands structured values over as JSON text; plain strings stay strings."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def load(raw: RawConfig, chains: Registry) -> Stack:
    """Validate raw config into a Stack, or raise ConfigError naming every bad key.

    `chains` are the registered chain adapters: the entry point passes them in (core never
    imports `adapters/`)."""
    try:
        values.stack_name(raw.stack)
    except ValueError as exc:
        raise ConfigError(repr(raw.stack), [("stack name", str(exc))]) from None
    problems: list[tuple[str, str]] = []
    chain_secrets = chains.secret_keys()  # every registered chain's: key -> (chain, purpose)
    every_secret = SECRET_KEYS.keys() | chain_secrets.keys()
    # A secret in plain text is refused whatever the chain (its value is never echoed), and kept
    # out of the config model, whose errors may quote a value.
    for key in sorted(every_secret & raw.values.keys()):
        problems.append(
            (f"{NAMESPACE}:{key}", f"is a secret; set it with `pulumi config set --secret {key}`, never as plain text")
        )
    plain = {k: v for k, v in raw.values.items() if k not in every_secret}
    config: StackConfig | None = None
    adapter: AnyAdapter | None = None
    settings: BaseModel | None = None
    try:
        config = StackConfig.model_validate(plain)
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc))
    if config is not None:
        adapter, settings, chain_problems = chains.resolve(config)
        problems.extend(chain_problems)
        problems.extend(published_key_problems(config))
    # The secret keys this stack may set: core's and its chain's (every chain's while the chain is unknown).
    allowed = {**SECRET_KEYS, **(adapter.secret_keys if adapter else {k: v[1] for k, v in chain_secrets.items()})}
    for key in sorted(raw.secure - allowed.keys()):
        if key in chain_secrets and config is not None:
            owner = chain_secrets[key][0]
            message = f"is a secret of chain {owner!r}; chain {config.chain!r} does not read it (remove it)"
        else:
            message = f"unknown secret key (known: {', '.join(sorted(allowed))})"
        problems.append((f"{NAMESPACE}:{key}", message))
    if problems:
        raise ConfigError(raw.stack, problems)
    assert config is not None and adapter is not None
    secrets = {key: SecretRef(key) for key in sorted(raw.secure & allowed.keys())}
    return Stack(raw.stack, config, adapter, settings, secrets)


def load_stack(stack: str, chains: Registry, stacks_dir: Path | None = None) -> Stack:
    return load(read_stack_file(stack, stacks_dir), chains)
