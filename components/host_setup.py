"""Apply a host plan over SSH: the host (pinned, identified), the bundle, one resource per step.

Each step is a `Step` resource (components/remote/) keyed by its hash: a `pulumi up` re-runs
exactly the steps whose script, parameters, files or secret inputs changed, and every step
when the machine behind the address changed. Commands carry only step names and hashes;
secrets go on stdin and stay secret in state; a failing step's output is redacted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from components.remote.resources import Bundle, Host, Step
from infrakit.plan.bundle import bundle_entries, sha256, tarball
from infrakit.plan.firewall import lockout_guard
from infrakit.plan.model import HostPlan, PlannedStep
from infrakit.plan.sources import PROJECT_ROOT

BUNDLE_CACHE = PROJECT_ROOT / ".infrakit" / "bundles"


def write_bundle(plan: HostPlan) -> tuple[Path, str]:
    """The deterministic tarball on disk (the provider uploads it when the host lacks it)."""
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
            old.unlink(missing_ok=True)
    return path, digest


def step_stdin(planned: PlannedStep, secrets: Mapping[str, pulumi.Output[str]]) -> pulumi.Output[str] | str:
    """NAME=value lines for the step's secrets (a secret Output), or "" for a step without any."""
    step = planned.step
    if not step.secrets:
        return ""
    missing = sorted(set(step.secrets.values()) - set(secrets))
    if missing:
        raise ValueError(f"step {step.name} needs secret(s) {missing} that the stack does not set")
    names = sorted(step.secrets)

    def lines(values: list[str]) -> str:
        return "".join(f"{n}={v}\n" for n, v in zip(names, values, strict=True))

    return pulumi.Output.secret(pulumi.Output.all(*[secrets[step.secrets[n]] for n in names]).apply(lines))


class HostSetup(pulumi.ComponentResource):
    """Identify the host, install the bundle, then run the plan's steps in order."""

    step_hashes: dict[str, str]

    def __init__(
        self,
        name: str,
        plan: HostPlan,
        access: pulumi.Input[dict[str, Any]],
        private_key: pulumi.Input[str],
        server_id: pulumi.Input[str],
        secrets: Mapping[str, pulumi.Output[str]],
        opts: pulumi.ResourceOptions | None = None,
        protect_host: bool = False,
    ) -> None:
        super().__init__("infrakit:host:HostSetup", name, None, opts)
        path, digest = write_bundle(plan)
        self.bundle_digest = digest
        # protect_host (an existing host with `protection`): `pulumi destroy` stops at the Host;
        # the machine itself is not InfraKit's to delete or protect.
        # The lock-out guard: the Host's login refuses a plan whose firewall would lock out the
        # operator's address, before the bundle and every step (they depend on the Host).
        self.host = Host(
            f"{name}-host", access, private_key, server_id, pulumi.ResourceOptions(parent=self, protect=protect_host),
            guard=lockout_guard(plan),
        )
        # Every later connection must show the key pinned in the stack or recorded by Host.
        pinned = pulumi.Output.all(pulumi.Output.from_input(access), self.host.seenHostKey).apply(
            lambda a: {**a[0], "hostKey": a[0].get("hostKey") or a[1] or ""}
        )
        machine = self.host.machineId
        previous: pulumi.Resource = Bundle(
            f"{name}-bundle",
            pinned,
            private_key,
            machine,
            digest,
            str(path),
            pulumi.ResourceOptions(parent=self, depends_on=[self.host]),
        )
        self.bundle = previous
        self.steps: dict[str, Step] = {}
        for planned in plan.steps:
            step = Step(
                f"{name}-{planned.step.name}",
                stack=plan.stack,
                step=planned.step.name,
                step_hash=planned.hash,
                access=pinned,
                private_key=private_key,
                machine_id=machine,
                stdin=step_stdin(planned, secrets),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[previous]),
            )
            self.steps[planned.step.name] = step
            previous = step
        self.step_hashes = {p.step.name: p.hash for p in plan.steps}
        self.register_outputs({"stepHashes": self.step_hashes, "bundleDigest": digest})


def secret_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
