"""Issue 9: resource names embedded the stack's name, so renaming a stack replaced everything.

Under the real engine, against a lab host, in file order:
a stack deployed with the earlier naming (the node named after the stack) -> upgraded to the
stack-independent names: nothing changes, nobody logs in -> `pulumi stack rename`: nothing is
created, deleted or replaced; only the steps whose content names the stack run again.
"""

from __future__ import annotations

import pytest

from infrakit.resource_names import NODE
from tests.engine.conftest import EngineProject, lab_values
from tests.engine.test_pulumi_up import accepted_logins, changes, host_hashes, plan_hashes
from tests.lab_names import test_host

pytestmark = [pytest.mark.lab, pytest.mark.engine]

ENGINE_HOST = test_host("ren")
STACK = "lab"
RENAMED = "lab-renamed"
EARLIER = "node = ChainNode(stack.name, stack, plan)\n"


@pytest.fixture(scope="module")
def project(engine_project: EngineProject) -> EngineProject:
    engine_project.write_stack(STACK, lab_values(engine_project.host))
    init = engine_project.pulumi("stack", "init", STACK)
    assert init.ok, init.out
    return engine_project


def _program(project: EngineProject) -> str:
    return (project.root / "__main__.py").read_text()


def test_a_stack_deployed_with_the_earlier_names_upgrades_without_a_change(project: EngineProject) -> None:
    program = _program(project)
    current = next(line for line in program.splitlines(keepends=True) if line.startswith("node = ChainNode("))
    (project.root / "__main__.py").write_text(program.replace(current, EARLIER))
    first = project.up(STACK)
    assert first.ok, first.out[-4000:]
    assert f"{STACK}-setup-harden_ssh" in project.pulumi("stack", "--show-urns", "-s", STACK).out, "earlier names"

    (project.root / "__main__.py").write_text(program)
    logins = accepted_logins(project)
    preview = project.pulumi("preview", "-s", STACK, "--diff")
    assert preview.ok, preview.out[-3000:]
    assert changes(preview.out) == {}, preview.out[-3000:]
    run = project.up(STACK)
    assert run.ok, run.out[-3000:]
    assert set(run.counts()) == {"unchanged"}, run.out[-1500:]
    assert accepted_logins(project) == logins, "the upgrade did not even log in"
    urns = project.pulumi("stack", "--show-urns", "-s", STACK).out
    assert f"::{NODE}-setup-harden_ssh" in urns and f"::{STACK}-setup-harden_ssh" not in urns


def test_a_renamed_stack_replaces_nothing(project: EngineProject) -> None:
    before = plan_hashes(project)
    renamed = project.pulumi("stack", "rename", RENAMED, "-s", STACK)
    assert renamed.ok, renamed.out
    assert (project.root / "stacks" / f"Pulumi.{RENAMED}.yaml").exists(), "the stack file moved with the stack"
    after = plan_hashes(project, RENAMED)
    moved = {name for name in after if after[name] != before[name]}
    preview = project.pulumi("preview", "-s", RENAMED, "--diff")
    assert preview.ok, preview.out[-3000:]
    found = changes(preview.out)
    assert set(found.values()) <= {"update"}, f"nothing created, deleted or replaced: {found}"
    # the Host's lock-out guard names the stack: one login to re-check it, no step
    assert found == {f"{NODE}-setup-{name}": "update" for name in moved | {"bundle", "host"}}, preview.out[-3000:]
    run = project.up(RENAMED)
    assert run.ok, run.out[-3000:]
    assert host_hashes(project) == after
