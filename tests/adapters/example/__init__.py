"""chain: example — a TEST-ONLY chain adapter (never shipped) that proves the adapter seam.

Its whole client is one package from a signed apt repository, installed, pinned and held by
core's apt artifact kind (infrakit.artifacts.apt): the adapter maps its settings to that kind
and declares a health check. Everything it needs is in this folder; registering it is one
line (tests/adapters/test_example_seam.py counts both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from infrakit.artifacts.apt import apt_step
from infrakit.chain import ChainAdapter, ChainParts, Role
from infrakit.plan.model import HealthCheck
from tests.adapters.example.settings import ExampleSettings

if TYPE_CHECKING:
    from infrakit.config.loader import Stack


class Example(ChainAdapter[ExampleSettings]):
    name: ClassVar[str] = "example"
    roles: ClassVar[tuple[Role, ...]] = (Role(name="node", summary="runs the example client"),)
    networks: ClassVar[tuple[str, ...]] = ("devnet",)
    settings_model: ClassVar[type[BaseModel] | None] = ExampleSettings
    runbook: ClassVar[str | None] = "tests/adapters/example/RUNBOOK.md"

    def parts(self, stack: Stack) -> ChainParts:
        client = self.settings(stack).client
        return ChainParts(
            steps=[apt_step(client, name="example_client")],
            health_checks=[HealthCheck(name="example_client", kind="command", target=f"/usr/bin/{client.package}")],
        )


ADAPTER = Example()
