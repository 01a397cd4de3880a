"""chain: example — a TEST-ONLY chain adapter (never shipped) that proves the adapter seam.

Its whole client is one package from a signed apt repository, installed, pinned and held by
core's apt artifact kind (infrakit.artifacts.apt): the adapter only maps its settings to that
kind and declares a service-less health check. Everything it needs lives in this folder;
registering it is one line (tests/adapters/example/test_seam.py counts both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from adapters.base import AdapterParts
from infrakit.artifacts.apt import apt_step
from infrakit.config.errors import problems_from_validation
from infrakit.plan.model import HealthCheck
from tests.adapters.example.settings import ExampleSettings

if TYPE_CHECKING:
    from infrakit.config.loader import Stack
    from infrakit.config.models import StackConfig

KEY = "infrakit:chainSettings"


class Example:
    name: str = "example"
    roles: tuple[str, ...] = ("node",)
    networks: tuple[str, ...] = ("devnet",)

    def validate(self, config: StackConfig) -> list[tuple[str, str]]:
        try:
            ExampleSettings.model_validate(config.chain_settings)
        except ValidationError as exc:
            return [
                (f"{KEY}.{key.removeprefix('infrakit:').removeprefix('<root>')}".rstrip("."), message)
                for key, message in problems_from_validation(exc)
            ]
        return []

    def parts(self, stack: Stack) -> AdapterParts:
        settings = ExampleSettings.model_validate(stack.config.chain_settings)
        client = settings.client
        return AdapterParts(
            steps=[apt_step(client, name="example_client")],
            health_checks=[HealthCheck(name="example_client", kind="command", target=f"/usr/bin/{client.package}")],
        )


ADAPTER = Example()
