"""The real-engine lane: the Pulumi CLI (scripts/engine.sh) runs the program against lab hosts.

Each test module gets a throwaway copy of the project (tracked files plus work in progress),
its own local state backend and an ssh-agent holding the lab's root key and the lab admin key,
so runs never touch the checkout's state. Marker `engine`; in CI a missing engine or lab is a
failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from infrakit.config import read_stack_file
from infrakit.plan.sources import PROJECT_ROOT
from infrakit_lab.host import LabHost, ensure_host_packages
from tests.lab_names import test_host

ENGINE = PROJECT_ROOT / ".infrakit" / "engine"
ADMIN_KEY = PROJECT_ROOT / "infrakit_lab" / "insecure_key" / "lab_admin_ed25519"
# INFRAKIT_E2E_ENGINE_HOST: another name, so that two runs on one machine do not collide.
# A test module may name its own host with a module-level ENGINE_HOST.
HOST_NAME = os.environ.get("INFRAKIT_E2E_ENGINE_HOST") or test_host("eng")


def require_engine_and_root() -> None:
    problems = []
    if os.geteuid() != 0:
        problems.append("root (the lab)")
    if not (ENGINE / "pulumi").exists():
        problems.append(f"the engine at {ENGINE} (scripts/setup.sh builds it)")
    if problems:
        if os.environ.get("CI"):
            pytest.fail("the real-engine lane needs " + " and ".join(problems))
        pytest.skip("the real-engine lane needs " + " and ".join(problems))


@dataclass
class Run:
    code: int
    out: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def counts(self) -> dict[str, int]:
        """The 'Resources:' summary: {'created': 18} / {'unchanged': 18, 'updated': 1} ..."""
        found: dict[str, int] = {}
        block = self.out.rsplit("Resources:", 1)[-1]
        for n, what in re.findall(r"^\s+[~+\-]*\s*(\d+) (to \w+|\w+)", block, re.M):
            found[what.replace("to ", "")] = int(n)
        return found


@dataclass
class EngineProject:
    """A copy of the project with its own Pulumi state, driven through scripts/pulumi."""

    root: Path
    agent_env: dict[str, str]
    host: LabHost
    runs: list[Run] = field(default_factory=list)

    def write_stack(self, name: str, values: dict[str, Any]) -> None:
        doc = {"config": {f"infrakit:{k}": v for k, v in values.items()}}
        path = self.root / "stacks" / f"Pulumi.{name}.yaml"
        # keep what the engine wrote (encryptionsalt, secure values)
        if path.exists():
            old = yaml.safe_load(path.read_text()) or {}
            doc = {
                **{k: v for k, v in old.items() if k != "config"},
                "config": {
                    **{k: v for k, v in (old.get("config") or {}).items() if isinstance(v, dict) and "secure" in v},
                    **doc["config"],
                },
            }
        path.write_text(yaml.safe_dump(doc, sort_keys=False))

    def pulumi(self, *args: str, stdin: str | None = None, timeout: float = 900) -> Run:
        env = {
            **os.environ,
            **self.agent_env,
            "PULUMI_CONFIG_PASSPHRASE": "infrakit-lab-not-secret",
            "NO_COLOR": "1",
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            "INFRAKIT_SSH_LOG": str(self.root / "ssh-debug.log"),
        }
        proc = subprocess.run(
            [str(self.root / "scripts" / "pulumi"), *args, "--non-interactive"],
            cwd=self.root,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        run = Run(proc.returncode, proc.stdout + proc.stderr)
        self.runs.append(run)
        return run

    def up(self, stack: str, *extra: str) -> Run:
        return self.pulumi("up", "-s", stack, "--yes", "--skip-preview", *extra)

    def guest(self, command: str, check: bool = True) -> str:
        """Run a command in the lab host without SSH (nsenter), so it leaves no SSH trace."""
        pid = self.host.guest_init_pid
        assert pid, f"lab host {self.host.name} is not running"
        proc = subprocess.run(
            ["nsenter", "--target", str(pid), "--mount", "--uts", "--ipc", "--net", "--pid", "--", "sh", "-c", command],
            capture_output=True,
            text=True,
            timeout=60,
            check=check,
        )
        return proc.stdout


def copy_project(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in files:
        if not raw:
            continue
        rel = raw.decode()
        src = PROJECT_ROOT / rel
        if rel.startswith("stacks/Pulumi.") or not src.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    (dest / "stacks").mkdir(exist_ok=True)
    (dest / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    (dest / ".infrakit").mkdir()
    (dest / ".infrakit" / "engine").symlink_to(ENGINE.resolve())


def start_agent(keys: list[Path]) -> tuple[dict[str, str], int]:
    out = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
    env = dict(re.findall(r"(SSH_AUTH_SOCK|SSH_AGENT_PID)=([^;]+);", out))
    for key in keys:
        key.chmod(0o600)
        subprocess.run(["ssh-add", "-q", str(key)], env={**os.environ, **env}, check=True, capture_output=True)
    return {"SSH_AUTH_SOCK": env["SSH_AUTH_SOCK"]}, int(env["SSH_AGENT_PID"])


def lab_values(host: LabHost, **overrides: Any) -> dict[str, Any]:
    """The shipped `lab` stack pointed at `host`, bootstrapping as root on first contact."""
    values = dict(read_stack_file("lab").values)
    values["host"] = {"target": "existing", "address": host.address, "bootstrapUser": "root"}
    values["access"] = {**values["access"], "adminCidrs": [f"{host.host_side_address}/32"]}
    values.update(overrides)
    return values


@pytest.fixture(scope="module")
def engine_project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProject]:
    require_engine_and_root()
    ensure_host_packages()
    name = str(getattr(request.module, "ENGINE_HOST", HOST_NAME))
    stale = LabHost.get(name)
    if stale:
        stale.down()
    host = LabHost.up(name)
    root = tmp_path_factory.mktemp("engine-project")
    keys = tmp_path_factory.mktemp("keys")
    copies = [Path(shutil.copy(host.ssh_key_path, keys / "root")), Path(shutil.copy(ADMIN_KEY, keys / "admin"))]
    agent_env, agent_pid = start_agent(copies)
    try:
        copy_project(root)
        project = EngineProject(root, agent_env, host)
        yield project
    finally:
        os.kill(agent_pid, signal.SIGTERM)
        if "project" in locals():  # keep the host's SSH log beside the project copy, for a failure's review
            with contextlib.suppress(Exception):
                (root / "sshd-journal.log").write_text(project.guest("journalctl -u ssh --no-pager", check=False))
        project_host = project.host if "project" in locals() else host
        project_host.down()


def wait_for(predicate: Any, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False
