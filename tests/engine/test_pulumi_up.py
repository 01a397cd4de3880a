"""`pulumi up` under the real engine against a lab host: every state transition, in order.

first up -> no-op up -> one-file change -> connection change -> wrong host key -> drift
(refresh) -> host re-created at the same address -> `infrakit apply` agrees with the result.
The tests of this module share one lab host and one Pulumi state, and run in file order.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from infrakit.resource_names import setup_resource
from infrakit_lab.host import LabHost
from tests.engine.conftest import EngineProject, lab_values

pytestmark = [pytest.mark.lab, pytest.mark.engine]

STACK = "lab"
# `preview` lists "~  TYPE NAME update"; `preview --diff` prints "~ TYPE: (update)", [id=..], "[urn=...::NAME]".
CHANGE = re.compile(r"^\s*(?:[~+\-]|\+-|-\+)\s+pulumi-python:dynamic/infrakit:(\w+)\s+(\S+)\s+(\w+)", re.M)
CHANGE_DIFF = re.compile(
    r"^\s*(?:[~+\-]|\+-|-\+)\s+pulumi-python:dynamic/infrakit:\w+: \((\w+)\)\s*\n"
    r"(?:\s*\[id=[^\]\n]*\]\s*\n)?\s*\[urn=[^\]\n]*::([^\]\n]+)\]",
    re.M,
)


def plan_hashes(project: EngineProject, stack: str = STACK) -> dict[str, str]:
    """Step hashes as the copy's own code computes them (what the preview must agree with)."""
    code = (
        "import json; from adapters.registry import REGISTRY; from infrakit.config import load_stack; "
        "from infrakit.plan import build_plan; "
        f"print(json.dumps({{p.step.name: p.hash for p in build_plan(load_stack({stack!r}, REGISTRY)).steps}}))"
    )
    out = subprocess.run(
        [str(project.root / ".venv" / "bin" / "python"), "-c", code],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out))


def host_hashes(project: EngineProject) -> dict[str, str]:
    out = project.guest(
        'cd /var/lib/infrakit/state && for f in *.hash; do echo "${f%.hash} $(cat $f)"; done', check=False
    )
    return dict(line.split() for line in out.splitlines() if len(line.split()) == 2)


def accepted_logins(project: EngineProject) -> int:
    out = project.guest("journalctl -u ssh -o cat --no-pager | grep -c '^Accepted ' || true", check=False)
    return int(out.strip() or 0)


def changes(out: str) -> dict[str, str]:
    """{resource name: operation} for the infrakit resources a preview/up lists as changing."""
    found = {name: op for _kind, name, op in CHANGE.findall(out)}
    found.update({name: op for op, name in CHANGE_DIFF.findall(out)})
    return found


@pytest.fixture(scope="module")
def project(engine_project: EngineProject) -> EngineProject:
    engine_project.write_stack(STACK, lab_values(engine_project.host))
    init = engine_project.pulumi("stack", "init", STACK)
    assert init.ok, init.out
    return engine_project


def test_first_up_converges_the_host(project: EngineProject) -> None:
    run = project.up(STACK)
    assert run.ok, run.out[-4000:]
    plan = plan_hashes(project)
    assert run.counts().get("created") == len(plan) + 6, run.out[-1500:]  # stack, node, host, setup, Host, Bundle
    assert host_hashes(project) == plan, "every step ran and recorded the planned hash on the host"
    assert "Traceback" not in run.out


def test_noop_up_changes_nothing_and_runs_nothing_on_the_host(project: EngineProject) -> None:
    """Proved from the host side: no SSH login at all, no step state rewritten."""
    before_logins = accepted_logins(project)
    before_apply = project.guest("cat /var/lib/infrakit/state/last-apply")
    run = project.up(STACK)
    assert run.ok, run.out[-3000:]
    assert set(run.counts()) == {"unchanged"}, run.out[-1500:]
    assert accepted_logins(project) == before_logins, "a no-op up must not even log in"
    assert project.guest("cat /var/lib/infrakit/state/last-apply") == before_apply


def test_one_file_change_reruns_only_the_steps_that_use_it(project: EngineProject) -> None:
    before = plan_hashes(project)
    script = project.root / "shared" / "hardening" / "fail2ban.sh"
    script.write_text(script.read_text() + "# a one-line change\n")
    after = plan_hashes(project)
    moved = {name for name in after if after[name] != before[name]}
    assert "fail2ban" in moved
    preview = project.pulumi("preview", "-s", STACK, "--diff")
    assert preview.ok, preview.out[-3000:]
    expected = {setup_resource(name): "update" for name in moved} | {setup_resource("bundle"): "update"}
    assert changes(preview.out) == expected, preview.out[-3000:]
    assert before["fail2ban"] in preview.out and after["fail2ban"] in preview.out, "the diff shows old and new hash"
    run = project.up(STACK)
    assert run.ok, run.out[-3000:]
    assert run.counts().get("updated") == len(expected), run.out[-1500:]
    assert host_hashes(project) == after


# What a one-line edit of a shell library module may touch in the lab stack (tests/infrakit/plan/
# test_sources.py checks the same on the plan): the 7 steps whose scripts source
# systemd.sh; never base_packages, create_user, sysctl, node_env or monitoring.
LIBRARY_EDIT = (
    "systemd.sh",
    {"harden_ssh", "firewall_ufw", "fail2ban", "time_sync", "unattended_upgrades", "node_exporter", "monitoring_units"},
)


def test_a_library_module_edit_reruns_only_the_steps_that_source_it(project: EngineProject) -> None:
    """Issue 11: the whole library was hashed into every step, so one comment replaced every
    step resource; now the preview names exactly the steps that source the edited module."""
    module, expected_steps = LIBRARY_EDIT
    before = plan_hashes(project)
    lib = project.root / "shared" / "lib" / module
    lib.write_text(lib.read_text() + "# a one-line change\n")
    after = plan_hashes(project)
    moved = {name for name in after if after[name] != before[name]}
    assert moved == expected_steps
    preview = project.pulumi("preview", "-s", STACK, "--diff")
    assert preview.ok, preview.out[-3000:]
    expected = {setup_resource(name): "update" for name in moved} | {setup_resource("bundle"): "update"}
    assert changes(preview.out) == expected, preview.out[-3000:]
    run = project.up(STACK)
    assert run.ok, run.out[-3000:]
    assert run.counts().get("updated") == len(expected), run.out[-1500:]
    assert host_hashes(project) == after


def test_connection_change_updates_only_the_host_and_reruns_nothing(project: EngineProject) -> None:
    """Pinning the host key and logging in with a key from config (not the agent): the
    preview names the Host only; no step runs on the host."""
    seen = project.guest("cat /etc/ssh/ssh_host_ed25519_key.pub").split()
    values = lab_values(project.host)
    values["host"] = {**values["host"], "hostKey": f"{seen[0]} {seen[1]}"}
    project.write_stack(STACK, values)
    admin_key = (project.root / "infrakit_lab" / "insecure_key" / "lab_admin_ed25519").read_text()
    assert project.pulumi("config", "set", "--secret", "infrakit:sshPrivateKey", "-s", STACK, stdin=admin_key).ok
    preview = project.pulumi("preview", "-s", STACK, "--diff")
    assert preview.ok, preview.out[-3000:]
    assert changes(preview.out) == {setup_resource("host"): "update"}, preview.out[-3000:]
    assert "BEGIN OPENSSH PRIVATE KEY" not in preview.out and "[secret]" in preview.out
    before_apply = project.guest("cat /var/lib/infrakit/state/last-apply")
    run = project.up(STACK)
    assert run.ok, run.out[-3000:]
    assert project.guest("cat /var/lib/infrakit/state/last-apply") == before_apply, "no step ran"
    state = project.pulumi("stack", "export", "-s", STACK)
    assert "BEGIN OPENSSH PRIVATE KEY" not in state.out, "the key is encrypted in state"


def test_wrong_host_key_stops_with_a_clear_message(project: EngineProject) -> None:
    values = lab_values(project.host)
    other = (project.root / "infrakit_lab" / "insecure_key" / "lab_admin_ed25519.pub").read_text().split()
    values["host"] = {**values["host"], "hostKey": f"{other[0]} {other[1]}"}
    project.write_stack(STACK, values)
    run = project.up(STACK)
    assert not run.ok
    assert "expected SHA256:" in run.out and "refusing to connect" in run.out, run.out[-2000:]
    assert "Traceback" not in run.out, "one clean message, not a provider traceback"
    project.write_stack(STACK, lab_values(project.host))  # back to trust-on-first-use (recorded key)


def test_refresh_finds_and_corrects_drift(project: EngineProject) -> None:
    """A step whose host-side record no longer matches (hand-reverted, failed, wiped) re-runs
    on `pulumi up --refresh`; plain `pulumi up` stays offline and does not contact the host."""
    project.guest("rm /var/lib/infrakit/state/sysctl.hash")
    preview = project.pulumi("preview", "-s", STACK, "--refresh", "--diff")
    assert preview.ok, preview.out[-3000:]
    assert changes(preview.out).get(setup_resource("sysctl")) == "update", preview.out[-3000:]
    run = project.up(STACK, "--refresh")
    assert run.ok, run.out[-3000:]
    assert host_hashes(project) == plan_hashes(project)


def test_recreated_host_at_the_same_address_converges_fully(project: EngineProject) -> None:
    address = project.host.address
    project.host.down()
    project.host = LabHost.up(project.host.name)
    assert project.host.address == address
    run = project.up(STACK, "--refresh")
    assert run.ok, run.out[-4000:]
    assert host_hashes(project) == plan_hashes(project), "every step ran on the new machine"
    again = project.up(STACK)
    assert again.ok and set(again.counts()) == {"unchanged"}, again.out[-1500:]


def test_infrakit_apply_reaches_the_same_end_state(project: EngineProject) -> None:
    """The SSH-only path over the Pulumi-converged host: every step reports changed=0."""
    known = project.root / "known_hosts"
    proc = subprocess.run(
        [
            str(project.root / ".venv" / "bin" / "python"),
            "-m",
            "adapters",  # the infrakit CLI's module form (it needs the registry)
            "apply",
            STACK,
            "-i",
            str(project.root / "infrakit_lab" / "insecure_key" / "lab_admin_ed25519"),
            "--known-hosts",
            str(known),
            "--verbose",
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    changed = re.findall(r"infrakit: step=(\w+) changed=1", out)
    assert changed == [], f"steps changed after pulumi up converged the host: {changed}"
