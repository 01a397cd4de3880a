"""The lock-out guard on the `pulumi up` path, under the real engine against a lab host.

`infrakit apply` refuses, before its first step, a plan whose firewall would lock out the
address it connects from. `pulumi up` must refuse the same plan before anything changes the
host: the Host resource's login reads the address the host sees and checks it against the
firewall's admin CIDRs; the bundle and every step depend on the Host. Without the guard, the
sshd and sysctl steps ran before the firewall step's own guard refused the rule set. The
tests share one lab host (`lk`, or INFRAKIT_E2E_LOCKOUT_HOST) and run in file order.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.engine.conftest import EngineProject, lab_values
from tests.lab_names import test_host

pytestmark = [pytest.mark.lab, pytest.mark.engine]

ENGINE_HOST = os.environ.get("INFRAKIT_E2E_LOCKOUT_HOST") or test_host("lk")
STACK = "lab"
ELSEWHERE = "198.51.100.0/24"  # documentation addresses: never the lab's
ADMIN_KEY = "infrakit_lab/insecure_key/lab_admin_ed25519"
# /tmp: only an uploaded bundle (a converged host's uptime probe churns its own private /tmp).
HOST_STATE = (
    "find /etc /var/lib/infrakit /home -xdev -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum; "
    "ls /tmp/infrakit-bundle-* 2>/dev/null; "
    "ls /var/lib/infrakit/state 2>/dev/null; id ops 2>&1; ufw status 2>&1; sshd -T 2>/dev/null | sort"
)


def values(project: EngineProject, cidrs: list[str] | None = None) -> dict[str, Any]:
    base = lab_values(project.host)
    if cidrs is not None:
        base["access"] = {**base["access"], "adminCidrs": cidrs}
    return base


def host_state(project: EngineProject) -> str:
    """What any step could have changed on the host, read without SSH (nsenter)."""
    return project.guest(HOST_STATE, check=False)


def refusal(project: EngineProject) -> str:
    side = project.host.host_side_address
    return f"this `pulumi up` comes from {side}, which is in none of stack '{STACK}' access.adminCidrs ({ELSEWHERE})"


@pytest.fixture(scope="module")
def project(engine_project: EngineProject) -> EngineProject:
    (engine_project.root / ADMIN_KEY).chmod(0o600)  # ssh refuses a key others can read
    init = engine_project.pulumi("stack", "init", STACK)
    assert init.ok, init.out
    return engine_project


def test_first_up_refuses_a_plan_that_locks_the_operator_out_and_changes_nothing(project: EngineProject) -> None:
    project.write_stack(STACK, values(project, [ELSEWHERE]))
    before = host_state(project)
    preview = project.pulumi("preview", "-s", STACK)
    assert preview.ok, preview.out
    assert f"a `pulumi up` from this machine comes from {project.host.host_side_address}" in preview.out, (
        "the preview names the problem it can estimate (the lab has no NAT)\n" + preview.out
    )
    up = project.up(STACK)
    assert not up.ok, up.out
    assert "refused before the bundle and the first step" in up.out and refusal(project) in up.out, up.out
    assert "Traceback" not in up.out
    assert host_state(project) == before, "nothing on the host changed (no bundle, no user, no sshd, no ufw)"
    assert "infrakit:index:Step" not in project.pulumi("stack", "export", "-s", STACK).out, "no step ran"


def test_the_same_stack_with_the_operators_address_converges(project: EngineProject) -> None:
    project.write_stack(STACK, values(project))
    up = project.up(STACK)
    assert up.ok, up.out[-4000:]
    assert "firewall_ufw" in project.guest("ls /var/lib/infrakit/state", check=False)


def test_narrowing_the_admin_cidrs_on_a_converged_host_is_refused_before_any_step(project: EngineProject) -> None:
    """Day 2: the firewall step would run with CIDRs that exclude the operator. The guard's
    change updates the Host, whose login refuses; no step runs, the host firewall is as it was."""
    before = host_state(project)
    project.write_stack(STACK, values(project, [ELSEWHERE]))
    up = project.up(STACK)
    assert not up.ok, up.out
    assert refusal(project) in up.out, up.out
    assert host_state(project) == before, "the host firewall and every step's record are unchanged"
    assert project.host.host_side_address in project.guest("ufw status", check=False), "SSH still open to us"
