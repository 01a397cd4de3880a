"""A host that already exists (bare metal, dedicated, lab): no cloud resources."""

from __future__ import annotations

import pulumi

from infrakit.config.models import ExistingTarget, StackConfig


class ExistingHost(pulumi.ComponentResource):
    """Only names the address; the host firewall (ufw) is its firewall."""

    address: pulumi.Output[str]

    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("infrakit:host:ExistingHost", name, None, opts)
        assert isinstance(config.host, ExistingTarget)
        self.address = pulumi.Output.from_input(config.host.address)
        self.register_outputs({"address": self.address})
