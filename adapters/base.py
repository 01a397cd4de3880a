"""What a chain adapter provides to the host plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from infrakit.config.loader import Stack
    from infrakit.config.models import StackConfig
    from infrakit.plan.model import HealthCheck, OpenPort, Service, Step


@dataclass(frozen=True)
class AdapterParts:
    """The chain-specific part of a plan: steps after the base, ports, services, checks."""

    steps: list[Step] = field(default_factory=list)
    ports: list[OpenPort] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    health_checks: list[HealthCheck] = field(default_factory=list)
    packages: tuple[str, ...] = ()
    # Where the chain keeps its data (the status page reports their disk use).
    data_dirs: list[str] = field(default_factory=list)
    # Reasons the plan may be reviewed but not applied (e.g. an artifact not yet locked).
    blockers: list[str] = field(default_factory=list)
    # Shown by validate/plan/render, never blocking (e.g. a client not known ready for a fork).
    warnings: list[str] = field(default_factory=list)


class Adapter(Protocol):
    name: str
    roles: tuple[str, ...]
    networks: tuple[str, ...]

    def validate(self, config: StackConfig) -> list[tuple[str, str]]:
        """Problems with chain-specific settings, as (key path, message)."""
        ...

    def parts(self, stack: Stack) -> AdapterParts:
        ...
