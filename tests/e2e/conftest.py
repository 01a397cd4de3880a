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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import testinfra

from infrakit.apply.executor import ApplyReport, apply_plan
from infrakit.apply.ssh import Target
from infrakit.config import RawConfig, Stack, load, read_stack_file
from infrakit.lab.host import LabHost, ensure_host_packages
from infrakit.plan import HostPlan, build_plan
from infrakit.plan.sources import PROJECT_ROOT

ADMIN_KEY = PROJECT_ROOT / "infrakit" / "lab" / "insecure_key" / "lab_admin_ed25519"
HOST_NAME = "e2e"


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

        report = apply_plan(plan or self.plan, kwargs.pop("target", self.admin), {}, say=record, **kwargs)
        self.logs[label] = lines
        self.reports[label] = report
        return report

    def guest(self, *argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a command inside the guest without SSH (nsenter into the container's init)."""
        return subprocess.run(["nsenter", "--target", str(guest_init_pid(self.host)), "--mount", "--uts", "--ipc",
                               "--net", "--pid", "--", *argv], capture_output=True, text=True, check=check,
                              timeout=timeout)


def guest_init_pid(host: LabHost) -> int:
    pid = host.pid
    assert pid, f"lab host {host.name} is not running"
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert children, f"lab host {host.name}: nspawn has no init child"
    return int(children[0])


def lab_stack(host: LabHost, **overrides: Any) -> Stack:
    values = dict(read_stack_file("lab").values)
    values["host"] = {"target": "existing", "address": host.address}
    values["access"] = {**values["access"], "adminCidrs": [f"{host.host_side_address}/32"]}
    values.update(overrides)
    return load(RawConfig("lab-e2e", values))


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_root()
    ensure_host_packages()
    stale = LabHost.get(HOST_NAME)
    if stale:
        stale.down()
    host = LabHost.up(HOST_NAME)
    try:
        stack = lab_stack(host)
        known = tmp_path_factory.mktemp("ssh") / "known_hosts"
        env = Lab(host, stack, build_plan(stack), known, {}, {})
        root = Target(host.address, "root", 22, host.ssh_key_path, known)
        bootstrap = env.apply("bootstrap", target=root, only={"base_packages", "create_user"})
        assert bootstrap.ok, "\n".join(env.logs["bootstrap"][-30:])
        first = env.apply("first")
        assert first.ok, "\n".join(env.logs["first"][-40:])
        yield env
    finally:
        host.down()


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
