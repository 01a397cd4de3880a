"""The host plan: everything that decides what runs on a server, as plain data.

A plan is built from a validated stack by `infrakit.plan.builder` (shared primitives plus
the chain adapter), with no Pulumi and no server. Pulumi, `infrakit render` and the SSH
executor all consume the same plan, so what a reviewer reads is what a host runs.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from infrakit.plan.sources import source_digest

STEP_NAME = r"^[a-z][a-z0-9_]{1,40}$"


class PlanModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RenderedFile(PlanModel):
    """A file the step installs: rendered content, where it goes, mode and owner."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    dest: str = Field(pattern=r"^/[^\s]+$")
    mode: str = Field(default="0644", pattern=r"^0[0-7]{3}$")
    owner: str = Field(default="root:root", pattern=r"^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$")
    content: str


class Step(PlanModel):
    """One script run on the host, with its non-secret parameters and files.

    `secrets` maps an environment name the script reads to the secret config key that
    supplies it; values arrive on stdin, never in the plan. `requires` names earlier steps
    whose change must re-run this one too.
    """

    name: str = Field(pattern=STEP_NAME)
    script: str = Field(pattern=r"^(shared|adapters)/[a-z0-9_/]+\.sh$")
    description: str
    params: dict[str, str] = {}
    files: tuple[RenderedFile, ...] = ()
    secrets: dict[str, str] = {}
    requires: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _param_names(self) -> Step:
        for key in self.params:
            if not key.isupper() or not key.replace("_", "").isalnum() or key.startswith("IK_"):
                raise ValueError(f"step {self.name}: parameter {key!r} must be UPPER_CASE and not IK_*")
        return self

    def own_digest(self) -> str:
        """Hash of what this step alone runs: script and library bytes, params, files, secret names."""
        payload = {
            "script": source_digest(self.script),
            "params": self.params,
            "files": [f.model_dump() for f in self.files],
            "secrets": self.secrets,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class OpenPort(PlanModel):
    """A port a service listens on. Public ports are opened to the world by the host and
    cloud firewalls; private ones stay on localhost / the private network."""

    port: int = Field(ge=1, le=65535)
    protocol: Literal["tcp", "udp"]
    exposure: Literal["public", "private"]
    purpose: str


class Service(PlanModel):
    name: str
    unit: str
    enabled: bool = True


class HealthCheck(PlanModel):
    """A check the monitoring tier runs on (or against) the host.

    `target` is a unit (systemd), `host:port` (tcp), a URL (http) or a command line
    (command). For http, `method`/`body`/`headers` describe the request (e.g. a JSON-RPC
    POST) and `expect` is a substring the response body must contain ("" = any 2xx).
    The extra fields default to a plain GET, so older checks read the same.

    Thresholds (http only): `query` is a jq expression on the JSON response body that
    yields a number (helpers: `hex` turns "0x1a" into 26, `age` turns a unix time into
    seconds ago); it is compared with `warn`/`crit`, where `bound` "max" means higher is
    worse (e.g. head age, blocks behind) and "min" lower is worse (e.g. peers). A boolean
    counts as 1/0. Checks run as shared/monitoring/check_rpc.sh (Nagios exit codes).
    """

    name: str
    kind: Literal["systemd", "tcp", "http", "command"]
    target: str
    expect: str = ""
    method: Literal["GET", "POST"] = "GET"
    body: str = ""
    headers: dict[str, str] = {}
    query: str = ""
    warn: float | None = None
    crit: float | None = None
    bound: Literal["max", "min"] = "max"


class PlannedStep(PlanModel):
    """A step with its position and its final hash (own digest + hashes it requires)."""

    index: int
    step: Step
    hash: str
    depends_on: tuple[str, ...]


class HostPlan(PlanModel):
    stack: str
    chain: str
    role: str
    network: str
    # The role holds keys that must never be lost or run twice (its adapter says so).
    holds_keys: bool = False
    # Delete/rebuild protection of the host (`host.protection`, else holds_keys).
    protected: bool = False
    ssh_port: int
    admin_cidrs: tuple[str, ...]
    steps: tuple[PlannedStep, ...]
    ports: tuple[OpenPort, ...] = ()
    services: tuple[Service, ...] = ()
    health_checks: tuple[HealthCheck, ...] = ()
    # Why this plan must not be applied yet; `render`/`plan` still work so it can be reviewed.
    blockers: tuple[str, ...] = ()
    # Worth an operator's attention but not a reason to refuse (shown by validate/plan/render).
    warnings: tuple[str, ...] = ()
    # The chain's step that proves the node works after a converge (None: the chain has none).
    smoke_test: str | None = None
    # During an SSH port migration (access.previousSshPort): the port sshd also keeps.
    previous_ssh_port: int | None = None

    @property
    def ssh_ports(self) -> tuple[int, ...]:
        """sshPort, then the previous port while a migration runs (sshd and both firewalls)."""
        return (self.ssh_port,) + ((self.previous_ssh_port,) if self.previous_ssh_port else ())

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def plan_hash(self) -> str:
        return hashlib.sha256("".join(s.hash for s in self.steps).encode()).hexdigest()

    def step(self, name: str) -> PlannedStep:
        for planned in self.steps:
            if planned.step.name == name:
                return planned
        raise KeyError(name)

    def public_ports(self) -> list[OpenPort]:
        return [p for p in self.ports if p.exposure == "public"]


def plan_steps(steps: list[Step]) -> tuple[PlannedStep, ...]:
    """Order steps, check names and `requires`, and chain hashes (Merkle style)."""
    seen: dict[str, str] = {}
    planned: list[PlannedStep] = []
    for index, step in enumerate(steps):
        if step.name in seen:
            raise ValueError(f"duplicate step name {step.name!r}")
        for req in step.requires:
            if req not in seen:
                raise ValueError(f"step {step.name!r} requires {req!r}, which is not an earlier step")
        parts = [step.own_digest(), *(seen[r] for r in step.requires)]
        digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
        previous = (planned[-1].step.name,) if planned else ()
        planned.append(PlannedStep(index=index, step=step, hash=digest, depends_on=previous))
        seen[step.name] = digest
    return tuple(planned)
