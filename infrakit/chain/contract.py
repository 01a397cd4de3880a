"""The adapter contract: everything a chain provides to a host plan, and nothing else.

A chain adapter is one folder under `adapters/` with a subclass of `ChainAdapter` and one
line in `adapters/registry.py` (see adapters/README.md). It declares, as class attributes:

- `name`, `networks`, and `roles`: each a `Role`, saying whether that role holds keys that
  must never be lost or run twice (key-holding roles get delete/rebuild protection by default);
- `settings_model`: the pydantic model of its `chainSettings` (camelCase keys, unknown keys
  refused; None when the chain takes none). Core validates it and names bad keys from the
  stack's root (`infrakit:chainSettings.<path>`);
- `runbook`: the project-relative operator procedures (e.g. runbooks/ethereum.md);
- `secret_keys`: the secret config keys the chain reads (key -> what it is for), e.g. a
  keystore password. Core treats them as its own secrets (infrakit/config/secrets.py): set only
  with `pulumi config set --secret`, refused in plain text without echoing the value, never in
  the plan, handed to the steps that name them (`Step.secrets`) on stdin; a stack of another
  chain that sets one is refused;

and, per stack, `parts(stack) -> ChainParts`: its steps (after the base hardening), ports,
services, health checks, data directories, packages, blockers, and which of its steps is
the smoke test. Checks that the settings model cannot express go in `check()`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field

from infrakit.plan.parts import PlanParts

if TYPE_CHECKING:
    from infrakit.config.loader import Stack
    from infrakit.config.models import StackConfig

# (key path from the stack's root, what was expected), e.g. ("infrakit:chainSettings.x", "...")
Problem = tuple[str, str]
NAME = r"^[a-z][a-z0-9-]{0,30}$"


class Role(BaseModel):
    """A role a stack of this chain can take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME)
    # Keys that must never be lost or run twice (a validator's signing keys): such a host is
    # protected from deletion and rebuild unless the stack says otherwise.
    holds_keys: bool = False
    summary: str = ""


@dataclass(frozen=True)
class ChainParts(PlanParts):
    """A chain's part of a plan. `smoke_test` names the step (one of `steps`) that proves the
    node works after a converge; None for a chain that runs nothing of its own."""

    smoke_test: str | None = None


SettingsT = TypeVar("SettingsT", bound=BaseModel)


class ChainAdapter(ABC, Generic[SettingsT]):
    """Subclass once per chain; the registry checks the class attributes when it is built."""

    name: ClassVar[str]
    roles: ClassVar[tuple[Role, ...]]
    networks: ClassVar[tuple[str, ...]]
    settings_model: ClassVar[type[BaseModel] | None] = None
    runbook: ClassVar[str | None] = None
    # secret config key (camelCase) -> what it is for (shown by `infrakit validate` and in errors)
    secret_keys: ClassVar[Mapping[str, str]] = {}

    def role(self, name: str) -> Role:
        for role in self.roles:
            if role.name == name:
                return role
        raise KeyError(f"chain {self.name!r} has no role {name!r}")

    def check(self, config: StackConfig, settings: SettingsT | None) -> list[Problem]:
        """Problems the settings model cannot see (e.g. a setting only valid for one role).

        Called once the settings validated, even when the role or network is unknown (that is
        reported already): a retired network can then say what replaced it."""
        return []

    @abstractmethod
    def parts(self, stack: Stack) -> ChainParts:
        """This chain's part of the stack's plan."""

    def settings(self, stack: Stack) -> SettingsT:
        """The stack's validated `chainSettings`, typed (the loader validated them already)."""
        if self.settings_model is None or not isinstance(stack.settings, self.settings_model):
            raise TypeError(f"stack {stack.name!r} has no {self.name} settings (was it loaded with this adapter?)")
        return cast(SettingsT, stack.settings)


AnyAdapter = ChainAdapter[Any]
