"""What each tier of a plan (a chain adapter, the web tier, the monitoring tier) hands the builder."""

from __future__ import annotations

from dataclasses import dataclass, field

from infrakit.plan.model import HealthCheck, OpenPort, Service, Step


@dataclass(frozen=True)
class PlanParts:
    """A tier's part of a plan: its steps (in order), ports, services, checks and more."""

    steps: list[Step] = field(default_factory=list)
    ports: list[OpenPort] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    health_checks: list[HealthCheck] = field(default_factory=list)
    # Packages the tier installs itself (the status page reports their versions).
    packages: tuple[str, ...] = ()
    # Where the tier keeps its data (the status page reports their disk use).
    data_dirs: list[str] = field(default_factory=list)
    # Reasons the plan may be reviewed but not applied (e.g. an artifact not yet locked).
    blockers: list[str] = field(default_factory=list)
    # Shown by validate/plan/render, never blocking (e.g. a client not known ready for a fork).
    warnings: list[str] = field(default_factory=list)
