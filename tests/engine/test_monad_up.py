"""`pulumi up` of a Monad stack under the real engine against a lab host (existing target), with
the TEST STAND-IN `monad` package from a local signed repository: the first up converges the
node, a second up changes nothing and does not even log in, and the keystore password is only
ever in encrypted state. (The stand-in is not Monad: adapters/monad/SOURCES.md.)
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.adapters.monad.conftest import BENEFICIARY, PASSWORD, TEST_BASE
from tests.adapters.monad.standin import build_deb
from tests.e2e.test_artifact_kinds import Server
from tests.e2e.test_monad import ensure_test_tools
from tests.engine.conftest import EngineProject, lab_values
from tests.engine.test_pulumi_up import accepted_logins, host_hashes
from tests.infrakit.artifacts.aptrepo import Keys, build_repo
from tests.lab_names import test_host

pytestmark = [pytest.mark.lab, pytest.mark.engine]

STACK = "lab-monad"
ENGINE_HOST = os.environ.get("INFRAKIT_E2E_MONAD_ENGINE_HOST") or test_host("meng")
KEY_FILE = "monad-lab/category-labs-TEST.asc"
BASE_FILE = "monad-lab/testnet-node.toml"


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
    ensure_test_tools()
    work = tmp_path_factory.mktemp("monad-engine")
    root = engine_project.root
    (root / "monad-lab").mkdir()
    (root / BASE_FILE).write_text(TEST_BASE)
    with Keys(work / "gnupg") as keys:
        fpr = keys.create("monad-repo@infrakit.invalid")
        (root / KEY_FILE).write_text(keys.armored(fpr))
        build_repo(keys, work / "www" / "apt", fpr, [build_deb(work, "1.0.0")], suite="noble")
    server = Server(work / "www", engine_project.host.host_side_address)
    server.start()
    try:
        values = lab_values(
            engine_project.host,
            chain="monad",
            role="fullnode",
            network="testnet",
            chainSettings={
                "nodeName": "infrakit-engine-1",
                "beneficiary": BENEFICIARY,
                "version": "1.0.0",
                "triedb": {"labNoDevice": True},
                "nodeConfigBase": BASE_FILE,
                "osOverride": "debian-12-lab",
                "hardwareChecks": "report",
                "repository": {"uri": f"{server.url}/apt", "keyFile": KEY_FILE, "keyFingerprint": fpr},
            },
        )
        engine_project.write_stack(STACK, values)
        assert engine_project.pulumi("stack", "init", STACK).ok
        secret = engine_project.pulumi(
            "config", "set", "--secret", "infrakit:monadKeystorePassword", "-s", STACK, stdin=PASSWORD
        )
        assert secret.ok, secret.out
        yield engine_project
    finally:
        if server.server:
            server.server.shutdown()


def test_first_up_converges_the_monad_node(project: EngineProject) -> None:
    run = project.up(STACK)
    assert run.ok, run.out[-5000:]
    assert "Traceback" not in run.out
    plan = plan_hashes(project)
    assert host_hashes(project) == plan, "every step ran and recorded the planned hash on the host"
    assert project.guest("dpkg-query -W -f='${Version}' monad") == "1.0.0"
    assert project.guest("apt-mark showhold monad").strip() == "monad"
    for unit in ("monad-bft", "monad-execution", "monad-rpc", "otelcol"):
        assert project.guest(f"systemctl is-active {unit}", check=False).strip() == "active", unit
    assert project.guest("ls /var/lib/monad/private").split() == ["id-bls", "id-secp"]
    assert PASSWORD not in run.out


def test_second_up_changes_nothing_and_never_logs_in(project: EngineProject) -> None:
    before_logins = accepted_logins(project)
    before_apply = project.guest("cat /var/lib/infrakit/state/last-apply")
    run = project.up(STACK)
    assert run.ok, run.out[-3000:]
    assert set(run.counts()) == {"unchanged"}, run.out[-1500:]
    assert accepted_logins(project) == before_logins, "a no-op up must not even log in"
    assert project.guest("cat /var/lib/infrakit/state/last-apply") == before_apply


def test_the_password_is_encrypted_in_state_and_stack_file(project: EngineProject) -> None:
    state = project.pulumi("stack", "export", "-s", STACK)
    assert state.ok and PASSWORD not in state.out
    assert PASSWORD not in (project.root / "stacks" / f"Pulumi.{STACK}.yaml").read_text()
    log = project.root / "ssh-debug.log"
    if log.exists():  # written only when paramiko logs (INFRAKIT_SSH_LOG)
        assert PASSWORD not in log.read_text(errors="replace")
