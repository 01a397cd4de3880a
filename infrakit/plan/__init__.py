"""The host plan: ordered steps, ports, services and checks, built without Pulumi."""

from infrakit.plan.builder import build_plan
from infrakit.plan.model import HostPlan, PlannedStep, RenderedFile, Step

__all__ = ["HostPlan", "PlannedStep", "RenderedFile", "Step", "build_plan"]
