"""ChainNode: one stack's host, its setup, and the outputs an operator needs."""

from __future__ import annotations

import pulumi

from components.existing_host import ExistingHost
from components.hcloud_host import HcloudHost
from components.host_setup import HostSetup, connection_args
from infrakit.config.loader import Stack
from infrakit.config.models import HcloudTarget
from infrakit.plan.model import HostPlan


class ChainNode(pulumi.ComponentResource):
    """Provision (or adopt) the host, then converge it with the plan."""

    def __init__(self, name: str, stack: Stack, plan: HostPlan, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("infrakit:index:ChainNode", name, None, opts)
        config = stack.config
        child = pulumi.ResourceOptions(parent=self)
        self.host: HcloudHost | ExistingHost = (
            HcloudHost(f"{name}-host", config, plan, child)
            if isinstance(config.host, HcloudTarget)
            else ExistingHost(f"{name}-host", config, child)
        )
        pulumi_config = pulumi.Config("infrakit")
        secrets = {key: pulumi_config.require_secret(key) for key in stack.secrets}
        private_key = secrets.pop("sshPrivateKey", None)
        user = config.ssh_user
        connection = connection_args(self.host.address, user, config.access.ssh_port, private_key)
        depends = [self.host]
        self.setup = HostSetup(f"{name}-setup", plan, connection, sudo=user != "root", secrets=secrets,
                               opts=pulumi.ResourceOptions(parent=self, depends_on=depends))
        self.address = self.host.address
        port = "" if config.access.ssh_port == 22 else f" -p {config.access.ssh_port}"
        self.ssh_command = self.address.apply(lambda a: f"ssh{port} {user}@{a}")
        self.open_ports = [f"{plan.ssh_port}/tcp ssh (admin CIDRs)"] + [
            f"{p.port}/{p.protocol} {p.purpose} ({p.exposure})" for p in plan.ports
        ]
        self.register_outputs({
            "address": self.address,
            "sshCommand": self.ssh_command,
            "stepHashes": self.setup.step_hashes,
            "openPorts": self.open_ports,
        })
