"""Apply a host plan over SSH: one bundle upload, then one remote Command per step.

Each step's `triggers` is its hash, so a `pulumi up` re-runs exactly the steps whose
script, parameters or files changed. Commands carry only step names and hashes; secrets
go on stdin, the stdin and the output of secret steps are stored as secrets, and their
output is not logged.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

import pulumi
from pulumi_command import remote

from infrakit.plan.bundle import bundle_entries, install_command, sha256, step_command, tarball
from infrakit.plan.model import HostPlan, PlannedStep
from infrakit.plan.sources import PROJECT_ROOT

BUNDLE_CACHE = PROJECT_ROOT / ".infrakit" / "bundles"
# A fresh cloud server needs time before sshd and the admin user exist: ~10 minutes.
DIAL_ERROR_LIMIT = 40
PER_DIAL_TIMEOUT = 15


def connection_args(address: pulumi.Input[str], user: str, port: int,
                    private_key: pulumi.Output[str] | None) -> remote.ConnectionArgs:
    return remote.ConnectionArgs(
        host=address,
        user=user,
        port=port,
        private_key=private_key,
        dial_error_limit=DIAL_ERROR_LIMIT,
        per_dial_timeout=PER_DIAL_TIMEOUT,
    )


def write_bundle(plan: HostPlan) -> tuple[Path, str]:
    """The deterministic tarball on disk (Pulumi uploads files, not bytes)."""
    data = tarball(bundle_entries(plan))
    digest = sha256(data)
    BUNDLE_CACHE.mkdir(parents=True, exist_ok=True)
    path = BUNDLE_CACHE / f"{plan.stack}-{digest[:16]}.tgz"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    mine = re.compile(rf"{re.escape(plan.stack)}-[0-9a-f]{{16}}\.tgz")  # not another stack's with this prefix
    for old in BUNDLE_CACHE.iterdir():
        if old != path and mine.fullmatch(old.name):
            old.unlink(missing_ok=True)  # Pulumi keeps the asset's hash, not the file
    return path, digest


class HostSetup(pulumi.ComponentResource):
    """Upload the bundle, then run the plan's steps in order."""

    step_hashes: dict[str, str]

    def __init__(
        self,
        name: str,
        plan: HostPlan,
        connection: remote.ConnectionArgs,
        sudo: bool,
        secrets: Mapping[str, pulumi.Output[str]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("infrakit:host:HostSetup", name, None, opts)
        path, digest = write_bundle(plan)
        self.bundle_digest = digest
        remote_tar = f"/tmp/infrakit-bundle-{digest[:16]}.tgz"
        upload = remote.CopyToRemote(
            f"{name}-bundle-upload",
            connection=connection,
            source=pulumi.FileAsset(str(path)),
            remote_path=remote_tar,
            triggers=[digest],
            opts=pulumi.ResourceOptions(parent=self),
        )
        previous: pulumi.Resource = remote.Command(
            f"{name}-bundle-install",
            connection=connection,
            create=install_command(remote_tar, digest, sudo),
            triggers=[digest],
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[upload]),
        )
        self.commands: dict[str, remote.Command] = {}
        for planned in plan.steps:
            previous = self._step(name, planned, connection, sudo, secrets, previous)
        self.step_hashes = {p.step.name: p.hash for p in plan.steps}
        self.register_outputs({"stepHashes": self.step_hashes, "bundleDigest": digest})

    def _step(self, name: str, planned: PlannedStep, connection: remote.ConnectionArgs, sudo: bool,
              secrets: Mapping[str, pulumi.Output[str]], previous: pulumi.Resource) -> remote.Command:
        step = planned.step
        triggers: list[pulumi.Input[str]] = [planned.hash]
        stdin: pulumi.Output[str] | None = None
        if step.secrets:
            missing = sorted(set(step.secrets.values()) - set(secrets))
            if missing:
                raise ValueError(f"step {step.name} needs secret(s) {missing} that the stack does not set")
            env_names = sorted(step.secrets)

            def env_lines(values: list[str], names: list[str] = env_names) -> str:
                return "".join(f"{n}={v}\n" for n, v in zip(names, values, strict=True))

            values = pulumi.Output.all(*[secrets[step.secrets[e]] for e in env_names])
            stdin = pulumi.Output.secret(values.apply(env_lines))
            # A changed secret value re-runs the step; the digest itself stays a secret.
            triggers.append(pulumi.Output.secret(stdin.apply(lambda s: hashlib.sha256(s.encode()).hexdigest())))
        command = remote.Command(
            f"{name}-{step.name}",
            connection=connection,
            create=step_command(planned, sudo),
            triggers=triggers,
            stdin=stdin,
            add_previous_output_in_env=False,
            logging=remote.Logging.NONE if step.secrets else remote.Logging.STDOUT_AND_STDERR,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[previous],
                additional_secret_outputs=["stdout", "stderr", "stdin"] if step.secrets else None,
            ),
        )
        self.commands[step.name] = command
        return command
