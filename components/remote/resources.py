"""The Pulumi resources behind HostSetup: Host, Bundle and one Step per plan step."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import Resource

from components.remote.provider import BundleProvider, HostProvider, StepProvider

# Outputs are declared (None) so the program can read them; secrets stay secret in state.
SECRET_OUTPUTS = ["privateKey", "stdin"]


def _opts(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS))


class Host(Resource, module="infrakit", name="Host"):
    machineId: pulumi.Output[str]  # noqa: N815 (Pulumi property name)
    seenHostKey: pulumi.Output[str]  # noqa: N815
    loginUser: pulumi.Output[str]  # noqa: N815
    loginPort: pulumi.Output[int]  # noqa: N815 (the fallback port while a migration's new port is silent)

    def __init__(
        self,
        name: str,
        access: pulumi.Input[dict[str, Any]],
        private_key: pulumi.Input[str],
        server_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
        guard: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            HostProvider(),
            name,
            {
                "access": access,
                "privateKey": private_key,
                "serverId": server_id,
                # infrakit.plan.firewall.lockout_guard: checked at every login of create/update
                "guard": guard,
                "machineId": None,
                "seenHostKey": None,
                "loginUser": None,
                "loginPort": None,
            },
            _opts(opts),
        )


class Bundle(Resource, module="infrakit", name="Bundle"):
    installed: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        access: pulumi.Input[dict[str, Any]],
        private_key: pulumi.Input[str],
        machine_id: pulumi.Input[str],
        digest: str,
        path: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            BundleProvider(),
            name,
            {
                "access": access,
                "privateKey": private_key,
                "machineId": machine_id,
                "digest": digest,
                "path": path,
                "installed": None,
            },
            _opts(opts),
        )


class Step(Resource, module="infrakit", name="Step"):
    changed: pulumi.Output[bool]
    applied: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        stack: str,
        step: str,
        step_hash: str,
        access: pulumi.Input[dict[str, Any]],
        private_key: pulumi.Input[str],
        machine_id: pulumi.Input[str],
        stdin: pulumi.Input[str] = "",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            StepProvider(),
            name,
            {
                "stack": stack,
                "step": step,
                "hash": step_hash,
                "access": access,
                "privateKey": private_key,
                "machineId": machine_id,
                "stdin": stdin,
                "changed": None,
                "applied": None,
                "seconds": None,
            },
            _opts(opts),
        )
