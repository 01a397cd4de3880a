"""End-to-end fixtures: a real lab host converged with the hardened-host plan.

The session boots one lab host (systemd-nspawn, Debian 12), bootstraps the admin user as
root, applies the plan as the admin user, then applies it again (idempotence). Tests look
at the host as it is: over SSH (testinfra, paramiko), from outside its network namespace,
and through `nsenter` for the few checks that must not depend on SSH working.
These tests need root; in CI a lab that cannot start is a failure, never a skip.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import testinfra

from adapters.registry import REGISTRY
from infrakit.apply.executor import ApplyReport, apply_plan
from infrakit.apply.ssh import Target
from infrakit.config import RawConfig, Stack, load, read_stack_file
from infrakit.plan import HostPlan, build_plan
from infrakit.plan.sources import PROJECT_ROOT
from infrakit_lab.host import LabHost, ensure_host_packages
from tests.lab_names import test_host

ADMIN_KEY = PROJECT_ROOT / "infrakit_lab" / "insecure_key" / "lab_admin_ed25519"
# INFRAKIT_E2E_HOST: another name, so that two runs on one machine do not remove each other's host
HOST_NAME = os.environ.get("INFRAKIT_E2E_HOST") or test_host("e2e")


def require_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("end-to-end tests need root in CI")
        pytest.skip("end-to-end tests need root")


@dataclass
class Lab:
    host: LabHost
    stack: Stack
    plan: HostPlan
    known_hosts: Path
    logs: dict[str, list[str]]
    reports: dict[str, ApplyReport]
    secrets: dict[str, str] = field(default_factory=dict)  # secret config key -> value, for every apply

    @property
    def admin(self) -> Target:
        return Target(self.host.address, "ops", 22, ADMIN_KEY, self.known_hosts)

    def apply(self, label: str, plan: HostPlan | None = None, **kwargs: Any) -> ApplyReport:
        lines: list[str] = []
        say = kwargs.pop("say", None)

        def record(line: str) -> None:
            lines.append(line)
            if say:
                say(line)

        report = apply_plan(plan or self.plan, kwargs.pop("target", self.admin), self.secrets, say=record, **kwargs)
        self.logs[label] = lines
        self.reports[label] = report
        return report

    def guest(self, *argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a command inside the guest without SSH (nsenter into the container's init)."""
        return subprocess.run(["nsenter", "--target", str(guest_init_pid(self.host)), "--mount", "--uts", "--ipc",
                               "--net", "--pid", "--", *argv], capture_output=True, text=True, check=check,
                              timeout=timeout)


def guest_init_pid(host: LabHost) -> int:
    pid = host.guest_init_pid
    assert pid, f"lab host {host.name} is not running"
    return pid


def side_address(host: LabHost, last_octet: int) -> str:
    """Another address on the lab's own side of the veth (the guest answers it directly)."""
    return host.host_side_address.rsplit(".", 1)[0] + f".{last_octet}"


# Extra client addresses on the lab side of the veth: PROBE makes the refused-login attempts,
# ATTACKER gets banned by fail2ban, OUTSIDER is not in adminCidrs at all.
PROBE, ATTACKER, OUTSIDER = 65, 66, 77


def add_side_addresses(host: LabHost) -> None:
    for octet in (PROBE, ATTACKER, OUTSIDER):
        subprocess.run(["ip", "addr", "replace", f"{side_address(host, octet)}/24", "dev", host.veth], check=True)


def lab_stack(host: LabHost, *, secure: Iterable[str] = (), **overrides: Any) -> Stack:
    """The `lab` stack pointed at `host`, with top-level key overrides; `secure` names the
    secret keys the stack sets (their values go to `Lab.secrets`). Admin CIDRs: the lab side
    of the veth plus the PROBE and ATTACKER addresses."""
    values = dict(read_stack_file("lab").values)
    values["host"] = {"target": "existing", "address": host.address}
    admins = [f"{a}/32" for a in (host.host_side_address, side_address(host, PROBE), side_address(host, ATTACKER))]
    values["access"] = {**values["access"], "adminCidrs": admins}
    values.update(overrides)
    return load(RawConfig("lab-e2e", values, frozenset(secure)), REGISTRY)


@contextmanager
def lab_session(name: str, tmp_path_factory: pytest.TempPathFactory,
                make_stack: Callable[[LabHost], Stack] = lab_stack, secrets: dict[str, str] | None = None,
                prepare: Callable[[Lab], None] | None = None) -> Iterator[Lab]:
    """Boot lab host `name` (a stale one is removed first), bootstrap the admin user as
    root, run `prepare` (e.g. start test servers in the guest), apply the plan as the
    admin user; remove the host afterwards."""
    require_root()
    ensure_host_packages()
    stale = LabHost.get(name)
    if stale:
        stale.down()
    host = LabHost.up(name)
    try:
        add_side_addresses(host)
        stack = make_stack(host)
        known = tmp_path_factory.mktemp(f"ssh-{name}") / "known_hosts"
        env = Lab(host, stack, build_plan(stack), known, {}, {}, dict(secrets or {}))
        root = Target(host.address, "root", 22, host.ssh_key_path, known)
        bootstrap = env.apply("bootstrap", target=root, only={"base_packages", "create_user"})
        assert bootstrap.ok, "\n".join(env.logs["bootstrap"][-30:])
        if prepare:
            prepare(env)
        first = env.apply("first")
        assert first.ok, "\n".join(env.logs["first"][-40:])
        yield env
    finally:
        host.down()


def session_stack(host: LabHost) -> Stack:
    """The session host's stack: fail2ban may ban admin addresses here (ignoreAdminCidrs:
    false), because the ATTACKER address must pass the firewall (an admin CIDR) to be banned."""
    return lab_stack(host, hardening={"fail2ban": {"ignoreAdminCidrs": False}})


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_session(HOST_NAME, tmp_path_factory, session_stack) as env:
        yield env


@pytest.fixture(scope="session")
def converged(lab: Lab) -> Lab:
    """The lab after the first full apply and a second (idempotence) apply."""
    if "second" not in lab.reports:
        lab.etc_before = etc_digest(lab)  # type: ignore[attr-defined]
        lab.apply("second")
        lab.etc_after = etc_digest(lab)  # type: ignore[attr-defined]
    return lab


def etc_digest(lab: Lab) -> dict[str, str]:
    out = lab.guest("sh", "-c", "find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum").stdout
    return dict(reversed(line.split("  ", 1)) for line in out.splitlines())


@pytest.fixture(scope="session")
def infra(lab: Lab) -> testinfra.host.Host:
    """testinfra over paramiko as the admin user with sudo: the host as it is."""
    return testinfra.get_host(f"paramiko://ops@{lab.host.address}", ssh_identity_file=str(ADMIN_KEY), sudo=True)
