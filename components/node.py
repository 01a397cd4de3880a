"""ChainNode: one stack's host, its setup, and the outputs an operator needs."""

from __future__ import annotations

import pulumi

from components.existing_host import ExistingHost
from components.hcloud_host import HcloudHost, gate_previous_ssh_port
from components.host_setup import HostSetup
from components.preflight import preview_lockout_warning
from infrakit.config.loader import Stack
from infrakit.config.models import ExistingTarget, HcloudTarget
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
        target = config.host
        bootstrap = (target.bootstrap_user or "") if isinstance(target, ExistingTarget) else ""
        port_number = config.access.ssh_port
        # The key every connection must see: pinned in the stack (existing host), made before
        # the server (hcloud), else the one seen first (recorded by the Host resource).
        pinned: pulumi.Input[str] = (
            self.host.host_key.publicKey
            if isinstance(self.host, HcloudHost)
            else (target.host_key or "")
            if isinstance(target, ExistingTarget)
            else ""
        )
        # During an SSH port migration: the old port, used while sshd is silent on the new one.
        fallback_port = config.access.previous_ssh_port or 0
        access = pulumi.Output.all(self.host.address, pinned).apply(
            lambda a: {
                "host": a[0],
                "port": port_number,
                "user": user,
                "bootstrapUser": bootstrap,
                "hostKey": a[1] or "",
                **({"fallbackPort": fallback_port} if fallback_port else {}),
            }
        )
        # A replaced cloud server is a new machine: its id re-runs every step.
        server_id = self.host.server.id if isinstance(self.host, HcloudHost) else ""
        self.setup = HostSetup(
            f"{name}-setup",
            plan,
            access,
            private_key or "",
            server_id,
            secrets,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.host]),
            protect_host=plan.protected and isinstance(target, ExistingTarget),
        )
        if isinstance(self.host, HcloudHost):
            # A port migration's previous port leaves the cloud firewall only once the Host
            # logged in on the new one (parented here: the setup waits for the cloud host).
            self.previous_port_firewall = gate_previous_ssh_port(
                f"{name}-host", self.host, self.setup.host, self
            )
        if pulumi.runtime.is_dry_run() and isinstance(target, ExistingTarget):
            warning = preview_lockout_warning(plan, target.address, port_number)
            if warning:
                pulumi.log.warn(warning)
        self.address = self.host.address
        port = "" if config.access.ssh_port == 22 else f" -p {config.access.ssh_port}"
        self.ssh_command = self.address.apply(lambda a: f"ssh{port} {user}@{a}")
        self.open_ports = [f"{port}/tcp ssh (admin CIDRs)" for port in plan.ssh_ports] + [
            f"{p.port}/{p.protocol} {p.purpose} ({p.exposure})" for p in plan.ports
        ]
        self.register_outputs(
            {
                "address": self.address,
                "sshCommand": self.ssh_command,
                "stepHashes": self.setup.step_hashes,
                "openPorts": self.open_ports,
            }
        )
