"""`pulumi up -s aztec-dev` under the real engine against a lab host, then a second `pulumi up`
that changes nothing and does not even log in.

The stack is the shipped `aztec-dev` with its host pointed at a lab host (target `existing`:
the hcloud provider cannot be built here) and the lab's two overrides: the Node.js and npm
tarballs from the lab's mirror (filled by `npm pack`), and `osOverride: debian-12-lab` (the
lab host's glibc cannot run Aztec's prover; the CLI itself runs). `@aztec/aztec` 4.1.2 and
anvil come from the public npm registry through `npm ci`, as on a real dev box (the lab host
trusts this machine's TLS-inspecting CA: tests/e2e/test_aztec.py).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest

from infrakit.config import read_stack_file
from tests.e2e.test_artifact_kinds import Server, npm_tarball
from tests.e2e.test_aztec import RUNTIME, SYSTEM_STORE, trust_lab_machine_cas
from tests.engine.conftest import EngineProject, lab_values
from tests.engine.test_pulumi_up import accepted_logins, host_hashes
from tests.lab_names import test_host

pytestmark = [pytest.mark.lab, pytest.mark.engine]

STACK = "aztec-dev"
ENGINE_HOST = test_host("aze")
SECONDS: dict[str, float] = {}


def plan_hashes(project: EngineProject) -> dict[str, str]:
    code = (
        "import json; from adapters.registry import REGISTRY; from infrakit.config import load_stack; "
        "from infrakit.plan import build_plan; "
        f"print(json.dumps({{p.step.name: p.hash for p in build_plan(load_stack({STACK!r}, REGISTRY)).steps}}))"
    )
    out = subprocess.run(
        [str(project.root / ".venv" / "bin" / "python"), "-c", code],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out))


@pytest.fixture(scope="module")
def project(engine_project: EngineProject, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProject]:
    root = tmp_path_factory.mktemp("aztec-mirror")
    for name, version in RUNTIME:
        target = root / "npm" / name / "-" / f"{name}-{version}.tgz"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(npm_tarball(name, version).read_bytes())
    server = Server(root, engine_project.host.host_side_address)
    server.start()
    try:
        shipped = read_stack_file(STACK).values
        chain = {
            **shipped["chainSettings"],
            "runtimeMirror": f"{server.url}/npm/",
            "osOverride": "debian-12-lab",
            "registryCaFile": SYSTEM_STORE,
        }
        values = lab_values(
            engine_project.host, chain="aztec", role="dev", network=shipped["network"], chainSettings=chain
        )
        trust_lab_machine_cas(engine_project.guest)
        engine_project.write_stack(STACK, values)
        assert engine_project.pulumi("stack", "init", STACK).ok
        yield engine_project
    finally:
        if server.server:
            server.server.shutdown()
        print(f"\naztec engine: seconds {json.dumps(SECONDS)}")


def test_first_up_converges_the_dev_box(project: EngineProject) -> None:
    start = time.monotonic()
    run = project.up(STACK)
    SECONDS["first_up"] = round(time.monotonic() - start, 1)
    assert run.ok, run.out[-5000:]
    assert "Traceback" not in run.out
    plan = plan_hashes(project)
    assert host_hashes(project) == plan, "every step ran and recorded the planned hash on the host"
    assert run.counts().get("created") == len(plan) + 6, run.out[-1500:]  # stack, node, host, setup, Host, Bundle
    as_dev = "runuser -u dev -- env -i HOME=/home/dev PATH=/usr/local/bin:/usr/bin:/bin"
    assert project.guest(f"{as_dev} aztec --version").strip() == "4.1.2"
    assert project.guest(f"{as_dev} anvil --version").splitlines()[0] == "anvil Version: 1.7.1"


def test_second_up_changes_nothing_and_never_logs_in(project: EngineProject) -> None:
    before_logins = accepted_logins(project)
    before_apply = project.guest("cat /var/lib/infrakit/state/last-apply")
    start = time.monotonic()
    run = project.up(STACK)
    SECONDS["second_up"] = round(time.monotonic() - start, 1)
    assert run.ok, run.out[-3000:]
    assert set(run.counts()) == {"unchanged"}, run.out[-1500:]
    assert accepted_logins(project) == before_logins, "a no-op up must not even log in"
    assert project.guest("cat /var/lib/infrakit/state/last-apply") == before_apply
