"""State transitions under the real engine against a lab host: a feature turned off and on
again, through `pulumi up` and through `infrakit apply`.

A feature turned off must be a previewed transition that turns it off on the host, never the
silent disappearance of a resource that leaves the service running. The tests share one lab
host (`op1`, or INFRAKIT_E2E_TRANSITIONS_HOST) and one Pulumi state, and run in file order.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

import pytest

from infrakit.resource_names import NODE, setup_resource
from tests.engine.conftest import EngineProject, lab_values
from tests.engine.test_pulumi_up import changes, host_hashes, plan_hashes
from tests.lab_names import test_host

pytestmark = [pytest.mark.lab, pytest.mark.engine]

ENGINE_HOST = os.environ.get("INFRAKIT_E2E_TRANSITIONS_HOST") or test_host("op")
STACK = "lab"
ADMIN_KEY = "infrakit_lab/insecure_key/lab_admin_ed25519"
NODE_EXPORTER = "prometheus-node-exporter.service"


def values(
    project: EngineProject, *, fail2ban: bool = True, node_exporter: bool = True, **overrides: Any
) -> dict[str, Any]:
    base = lab_values(project.host)
    base["hardening"] = {**base.get("hardening", {}), "fail2ban": {"enabled": fail2ban}}
    base["monitoring"] = {**base.get("monitoring", {}), "nodeExporter": node_exporter}
    base.update(overrides)
    return base


def unit_state(project: EngineProject, unit: str) -> tuple[str, str]:
    """(is-active, is-enabled) of a unit on the host, read without SSH."""
    active = project.guest(f"systemctl is-active {unit} || true", check=False).strip()
    enabled = project.guest(f"systemctl is-enabled {unit} 2>/dev/null || true", check=False).strip()
    return active, enabled


def admin_login_works(project: EngineProject, port: int = 22) -> bool:
    """A real login as the admin user with the lab admin key (pinned to nothing: lab only)."""
    proc = subprocess.run(
        [
            "ssh",
            "-i",
            str(project.root / ADMIN_KEY),
            "-p",
            str(port),
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=5",
            f"ops@{project.host.address}",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return proc.returncode == 0


def infrakit_apply(project: EngineProject) -> tuple[int, str]:
    proc = subprocess.run(
        [
            str(project.root / ".venv" / "bin" / "python"),
            "-c",  # the copy's own code (cwd on sys.path), through the CLI's entry point
            "import sys; from adapters.registry import main; sys.exit(main())",
            "apply",
            STACK,
            "-i",
            str(project.root / ADMIN_KEY),
            "--known-hosts",
            str(project.root / "known_hosts"),
            "--verbose",
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def assert_off(project: EngineProject) -> None:
    assert unit_state(project, "fail2ban.service") == ("inactive", "disabled")
    assert project.guest("test -e /etc/fail2ban/jail.d/infrakit.local && echo present || echo gone").strip() == "gone"
    assert unit_state(project, NODE_EXPORTER) == ("inactive", "disabled")
    recorded = host_hashes(project)
    assert "fail2ban" not in recorded and "node_exporter" not in recorded, "the off steps' records are removed"


def assert_on(project: EngineProject) -> None:
    assert unit_state(project, "fail2ban.service") == ("active", "enabled")
    assert unit_state(project, NODE_EXPORTER) == ("active", "enabled")
    assert host_hashes(project) == plan_hashes(project)


@pytest.fixture(scope="module")
def project(engine_project: EngineProject) -> EngineProject:
    (engine_project.root / ADMIN_KEY).chmod(0o600)  # ssh refuses a key others can read
    engine_project.write_stack(STACK, values(engine_project))
    init = engine_project.pulumi("stack", "init", STACK)
    assert init.ok, init.out
    return engine_project


def test_first_up_with_fail2ban_and_node_exporter_on(project: EngineProject) -> None:
    run = project.up(STACK)
    assert run.ok, run.out[-4000:]
    assert_on(project)
    assert admin_login_works(project)


def test_feature_off_is_previewed_as_deletes_and_turned_off_on_the_host(project: EngineProject) -> None:
    project.write_stack(STACK, values(project, fail2ban=False, node_exporter=False))
    preview = project.pulumi("preview", "-s", STACK)
    assert preview.ok, preview.out[-3000:]
    found = changes(preview.out)
    assert found.get(setup_resource("fail2ban")) == "delete", preview.out[-3000:]
    assert found.get(setup_resource("node_exporter")) == "delete", preview.out[-3000:]
    # The updates say why: the step's hash moved (the monitoring checks lost fail2ban).
    assert re.search(rf"{NODE}-setup-monitoring\s+update\s+\[diff: ~hash\]", preview.out), preview.out[-3000:]
    run = project.up(STACK)
    assert run.ok, run.out[-4000:]
    assert run.counts().get("deleted") == 2, run.out[-1500:]
    assert_off(project)
    assert admin_login_works(project)
    again = project.up(STACK)
    assert again.ok and set(again.counts()) == {"unchanged"}, again.out[-1500:]


def test_feature_on_again_converges(project: EngineProject) -> None:
    project.write_stack(STACK, values(project))
    run = project.up(STACK)
    assert run.ok, run.out[-4000:]
    assert run.counts().get("created") == 2, run.out[-1500:]
    assert_on(project)
    assert admin_login_works(project)


def test_infrakit_apply_turns_the_feature_off_the_same_way(project: EngineProject) -> None:
    """The SSH-only path: a step the host recorded that the plan no longer has gets the same
    off action (shared/lib/run_off.sh); Pulumi's delete afterwards finds nothing to do."""
    project.write_stack(STACK, values(project, fail2ban=False, node_exporter=False))
    code, out = infrakit_apply(project)
    assert code == 0, out[-3000:]
    assert "infrakit: step=fail2ban changed=1" in out and "infrakit: step=node_exporter changed=1" in out, out[-3000:]
    assert_off(project)
    run = project.up(STACK)
    assert run.ok, run.out[-4000:]
    assert run.counts().get("deleted") == 2, run.out[-1500:]
    assert_off(project)
    code, out = infrakit_apply(project)
    assert code == 0 and "changed=1" not in out, out[-3000:]
    project.write_stack(STACK, values(project))
    code, out = infrakit_apply(project)
    assert code == 0, out[-3000:]
    assert_on(project)


# -- SSH port migration: 22 -> 2222 in two phases, never a lock-out -------------------------

NEW_PORT = 2222


def listening(project: EngineProject) -> set[int]:
    """The TCP ports sshd listens on, read inside the host (no SSH)."""
    out = project.guest("ss -Hltnp | grep sshd || true", check=False)
    return {int(m) for m in re.findall(r":(\d+)\s", out)}


def ufw_ssh_ports(project: EngineProject) -> set[int]:
    out = project.guest("ufw status | grep -i 'ssh-admin' || true", check=False)
    return {int(m) for m in re.findall(r"^(\d+)/tcp", out, re.M)}


def last_apply(project: EngineProject) -> str:
    return project.guest("cat /var/lib/infrakit/state/last-apply")


def test_back_on_pulumi_state_before_the_port_tests(project: EngineProject) -> None:
    run = project.up(STACK)
    assert run.ok, run.out[-3000:]
    assert listening(project) == {22} and ufw_ssh_ports(project) == {22}
    assert admin_login_works(project, 22)


def test_one_shot_port_change_is_refused_before_anything_changes(project: EngineProject) -> None:
    """sshPort 22 -> 2222 in one edit would move sshd, both firewalls and the connection at
    once: the Host resource finds sshd silent on 2222 and stops the run, naming the fix."""
    before = last_apply(project)
    project.write_stack(STACK, values(project, access={**lab_values(project.host)["access"], "sshPort": NEW_PORT}))
    preview = project.pulumi("preview", "-s", STACK)
    assert preview.ok, preview.out[-3000:]
    assert re.search(rf"{NODE}-setup-host\s+update\s+\[diff: ~access", preview.out), preview.out[-3000:]
    run = project.up(STACK)
    assert not run.ok
    assert "previousSshPort: 22" in run.out and "Nothing was changed" in run.out, run.out[-3000:]
    assert "Traceback" not in run.out
    assert last_apply(project) == before, "no step ran"
    assert listening(project) == {22} and admin_login_works(project, 22)


def test_port_migration_phase_1_listens_on_both_ports(project: EngineProject) -> None:
    access = {**lab_values(project.host)["access"], "sshPort": NEW_PORT, "previousSshPort": 22}
    project.write_stack(STACK, values(project, access=access))
    preview = project.pulumi("preview", "-s", STACK, "--diff")
    assert preview.ok, preview.out[-3000:]
    found = changes(preview.out)
    for step in ("harden_ssh", "firewall_ufw", "fail2ban"):
        assert found.get(setup_resource(step)) == "update", preview.out[-4000:]
    assert found.get(setup_resource("host")) == "update", preview.out[-4000:]
    assert "fallbackPort" in preview.out, "the diff names the migration's fallback port"
    run = project.up(STACK)
    assert run.ok, run.out[-4000:]
    assert listening(project) == {22, NEW_PORT}
    assert ufw_ssh_ports(project) == {22, NEW_PORT}
    assert admin_login_works(project, 22) and admin_login_works(project, NEW_PORT)
    jail = project.guest("grep '^port' /etc/fail2ban/jail.d/infrakit.local", check=False)
    assert f"{NEW_PORT},22" in jail.replace(" ", ""), jail


def test_port_migration_phase_2_drops_the_old_port(project: EngineProject) -> None:
    access = {**lab_values(project.host)["access"], "sshPort": NEW_PORT}
    project.write_stack(STACK, values(project, access=access))
    run = project.up(STACK)
    assert run.ok, run.out[-4000:]
    assert listening(project) == {NEW_PORT}
    assert ufw_ssh_ports(project) == {NEW_PORT}
    assert admin_login_works(project, NEW_PORT)
    assert not admin_login_works(project, 22), "port 22 is closed at the end"
    again = project.up(STACK)
    assert again.ok and set(again.counts()) == {"unchanged"}, again.out[-1500:]
    assert host_hashes(project) == plan_hashes(project)
