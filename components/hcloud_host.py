"""A Hetzner Cloud host: SSH keys, firewall, stable primary IP, optional volume, server."""

from __future__ import annotations

import hashlib
import re

import pulumi
import pulumi_hcloud as hcloud

from components.cloud_init import user_data
from components.remote.host_key import HostKeyPair
from infrakit.config.models import HcloudTarget, StackConfig
from infrakit.plan.firewall import inbound_rules
from infrakit.plan.model import HostPlan

HOSTNAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def key_id(public_key: str) -> str:
    """A short, stable name part for an SSH public key (its SHA-256, hex)."""
    return hashlib.sha256(public_key.split()[1].encode()).hexdigest()[:12]


class HcloudHost(pulumi.ComponentResource):
    """Creates the server and everything around it. `address` is the stable IPv4."""

    address: pulumi.Output[str]

    def __init__(
        self, name: str, config: StackConfig, plan: HostPlan, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("infrakit:host:HcloudHost", name, None, opts)
        target = config.host
        assert isinstance(target, HcloudTarget)
        protected = plan.protected
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=protected)
        labels = {"managed-by": "infrakit", "stack": plan.stack, "chain": plan.chain, "role": plan.role,
                  **target.labels}
        if not HOSTNAME.fullmatch(plan.stack):
            raise pulumi.RunError(f"stack '{plan.stack}': the stack name is the server's host name: expected "
                                  "1-63 lower-case letters, digits and '-', not starting or ending with '-'")
        # Hetzner names are unique in a project: a replacement must go before its successor comes.
        unique = pulumi.ResourceOptions(parent=self, delete_before_replace=True)

        if target.ssh_key_names:
            ssh_keys: list[pulumi.Input[str]] = list(target.ssh_key_names)
        else:
            # Named by the key's fingerprint, not its position: reordering the list replaces nothing.
            ssh_keys = [
                hcloud.SshKey(f"{name}-key-{key_id(key)}", name=f"{plan.stack}-admin-{key_id(key)}", public_key=key,
                              labels=labels, opts=unique).id
                for key in config.access.admin_keys
            ]
        # The server's ed25519 host key, made before it exists: the first SSH connection is pinned.
        self.host_key = HostKeyPair(f"{name}-host-key", plan.stack, child)
        pair = pulumi.Output.all(self.host_key.privateKey, self.host_key.publicKey)
        boot_text: pulumi.Output[str] = pair.apply(lambda kp: user_data(config, (kp[0], kp[1])))
        first_boot: pulumi.Output[str] = pulumi.Output.secret(boot_text)

        self.firewall = hcloud.Firewall(
            f"{name}-firewall",
            name=f"{plan.stack}-fw",
            labels=labels,
            rules=[
                hcloud.FirewallRuleArgs(direction="in", protocol=r.protocol, port=str(r.port),
                                        source_ips=list(r.sources), description=r.purpose)
                for r in inbound_rules(plan.ssh_ports, plan.admin_cidrs, plan.ports)
            ],
            opts=unique,
        )
        self.primary_ip = hcloud.PrimaryIp(
            f"{name}-ipv4",
            name=f"{plan.stack}-ipv4",
            type="ipv4",
            location=target.location,
            assignee_type="server",
            auto_delete=False,
            delete_protection=protected,
            labels=labels,
            opts=pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        self.server = hcloud.Server(
            f"{name}-server",
            name=plan.stack,
            server_type=target.server_type,
            image=target.image,
            location=target.location,
            backups=target.backups,
            delete_protection=protected,
            rebuild_protection=protected,
            labels=labels,
            ssh_keys=ssh_keys,
            # The main firewall from the first boot; the previous-port firewall is attached by its
            # own FirewallAttachment (gate_previous_ssh_port), which the server must not undo.
            firewall_ids=[self.firewall.id.apply(int)],
            ignore_remote_firewall_ids=True,
            public_nets=[hcloud.ServerPublicNetArgs(ipv4_enabled=True, ipv4=self.primary_ip.id.apply(int),
                                                    ipv6_enabled=True)],
            user_data=first_boot,
            shutdown_before_deletion=True,
            # Re-creating a node because its first-boot data changed would be a disaster for a
            # validator: key and user changes are the create_user step's job.
            opts=pulumi.ResourceOptions(parent=self, protect=protected, ignore_changes=["userData", "sshKeys"],
                                        delete_before_replace=True),
        )
        self.volume: hcloud.Volume | None = None
        if target.volume:
            self.volume = hcloud.Volume(
                f"{name}-volume",
                name=f"{plan.stack}-data",
                size=target.volume.size_gb,
                format=target.volume.format,
                location=target.location,
                delete_protection=protected,
                labels=labels,
                opts=pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(delete_before_replace=True)),
            )
            hcloud.VolumeAttachment(
                f"{name}-volume-attachment",
                server_id=self.server.id.apply(int),
                volume_id=self.volume.id.apply(int),
                automount=True,
                opts=child,
            )
        self.labels, self.plan = labels, plan  # for gate_previous_ssh_port
        self.address = self.primary_ip.ip_address
        self.register_outputs({"address": self.address})


def gate_previous_ssh_port(name: str, cloud: HcloudHost, proved_by: pulumi.Resource,
                           parent: pulumi.Resource) -> hcloud.Firewall:
    """A second cloud firewall that holds the migration's previous SSH port until the host
    proves the new one: the old port's removal is gated on that proof.

    Phase 1 (access.previousSshPort): the main firewall and this one both allow the previous
    port. Phase 2 (previousSshPort removed): the main firewall drops it at once, but this one
    keeps it until `proved_by` (the Host) is done: the Pulumi engine starts a resource's
    update only after its dependencies' updates succeeded, and the Host's update dials only
    access.sshPort and stops the run when sshd is silent there. If the Host fails, this
    firewall is never updated and the old port stays open. `parent` must not be a dependency
    of `proved_by` (the Host waits for every child of the cloud host)."""
    plan = cloud.plan
    rules = (
        [hcloud.FirewallRuleArgs(direction="in", protocol="tcp", port=str(plan.previous_ssh_port),
                                 source_ips=list(plan.admin_cidrs), description="ssh admin previous port")]
        if plan.previous_ssh_port
        else []
    )
    firewall = hcloud.Firewall(
        f"{name}-firewall-ssh-previous",
        name=f"{plan.stack}-fw-ssh-previous",
        labels=cloud.labels,
        rules=rules,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[proved_by], delete_before_replace=True),
    )
    hcloud.FirewallAttachment(
        f"{name}-firewall-ssh-previous-attachment",
        firewall_id=firewall.id.apply(int),
        server_ids=[cloud.server.id.apply(int)],
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return firewall
