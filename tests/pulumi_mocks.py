"""Evaluate the real Pulumi program (`__main__.py`) under Pulumi mocks and record resources.

Used by the component tests; one place sets the mocks (STYLE.md: build one fixture that
takes overrides instead of copy-pasted factories).
"""

from __future__ import annotations

import itertools
import json
import runpy
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from infrakit.plan.sources import PROJECT_ROOT

PROGRAM = PROJECT_ROOT / "__main__.py"
FAKE_IPV4 = "192.0.2.10"
FAKE_MACHINE_ID = "0123456789abcdef0123456789abcdef"
FAKE_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMockHostKeyMockHostKeyMockHostKeyMock"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker for a secret value on the wire


def unwrap(value: Any) -> Any:
    """Inputs as the provider would see them, with Pulumi's secret wrappers removed."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return unwrap(value["value"])
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


@dataclass
class Recorded:
    typ: str
    name: str
    inputs: dict[str, Any]
    raw_inputs: dict[str, Any]  # as sent, secrets still wrapped

    def is_secret(self, key: str) -> bool:
        value = self.raw_inputs.get(key)
        return isinstance(value, dict) and SECRET_SIG in value


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    resources: list[Recorded] = field(default_factory=list)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1000))

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(Recorded(args.typ, args.name, unwrap(dict(args.inputs)), dict(args.inputs)))
        outputs = dict(args.inputs)
        if args.typ == "hcloud:index/primaryIp:PrimaryIp":
            outputs["ipAddress"] = FAKE_IPV4
        if args.typ.endswith("dynamic/infrakit:HostKeyPair"):  # what HostKeyProvider.create makes
            outputs.update(publicKey=FAKE_HOST_KEY, privateKey="-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n")
        if args.typ.endswith("dynamic/infrakit:Host"):  # what HostProvider.create records
            outputs.update(machineId=FAKE_MACHINE_ID, seenHostKey=FAKE_HOST_KEY, loginUser="ops")
        return str(next(self.ids)), outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None

    def of_type(self, suffix: str) -> list[Recorded]:
        return [r for r in self.resources if r.typ.endswith(suffix)]

    def named(self, name: str) -> Recorded:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name!r}, found {len(matches)}"
        return matches[0]


@dataclass
class Evaluation:
    mocks: RecordingMocks
    namespace: dict[str, Any]

    @property
    def steps(self) -> list[Recorded]:
        """The plan's Step resources (components/remote/), in registration (= plan) order."""
        return self.mocks.of_type("dynamic/infrakit:Step")

    def one(self, suffix: str) -> Recorded:
        (found,) = self.mocks.of_type(suffix)
        return found

    def cloud_rules(self) -> list[dict[str, Any]]:
        """Every cloud firewall's rules together (Hetzner applies their union to the server):
        the main firewall's, then the migration's previous-port firewall's."""
        firewalls = self.mocks.of_type("hcloud:index/firewall:Firewall")
        assert firewalls, "no cloud firewall"
        return [rule for fw in firewalls for rule in fw.inputs.get("rules") or []]


def evaluate(stack: str, values: dict[str, Any], secrets: dict[str, str] | None = None,
             preview: bool = False) -> Evaluation:
    """Run the program for `stack` with `infrakit:` config `values` and secret `secrets`,
    as `pulumi up` would (or as `pulumi preview` with preview=True)."""
    secrets = secrets or {}
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="infrakit", stack=stack, preview=preview)
    config = {f"infrakit:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    config.update({f"infrakit:{k}": v for k, v in secrets.items()})
    runtime_config.set_all_config(config, [f"infrakit:{k}" for k in secrets])
    namespace: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> None:
        namespace.update(runpy.run_path(str(PROGRAM), run_name="__pulumi__"))

    run()
    return Evaluation(mocks, namespace)
