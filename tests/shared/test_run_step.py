"""run_step.sh against a fake bundle in a temp dir (needs root: the runner refuses otherwise).

The runner is the only thing between a Pulumi trigger and a root shell on a server: it
must refuse a stale bundle, pass exactly the declared secrets, and record state only on
success.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.shared.conftest import LIB, clean_env, require_root

HASH = "ab" * 32
SECRET = "hunter2-secret-value"

PROBE = """#!/usr/bin/env bash
# probe.sh: prints what the runner gave it.
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"
printf 'param=%s\\n' "${GREETING:-}"
printf 'step=%s dir=%s bundle=%s client=%s\\n' "$IK_STEP" "${IK_STEP_DIR##*/}" "${IK_BUNDLE##*/}" "$IK_SSH_CLIENT"
token="${TOKEN:-}"; printf 'secret_len=%s\\n' "${#token}"
if read -r -t 1 line; then echo "stdin=$line"; else echo "stdin=empty"; fi
touch "$IK_BUNDLE/ran"
[[ -n "${PROBE_EXIT:-}" ]] && exit "$PROBE_EXIT"
ik_done
"""


@dataclass
class Bundle:
    root: Path
    state: Path

    def step(self, name: str = "probe", *, params: str = "", secrets: str = "", hash_: str = HASH) -> None:
        d = self.root / "steps" / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "script").write_text("shared/test/probe.sh\n")
        (d / "hash").write_text(hash_ + "\n")
        (d / "params.env").write_text(params)
        (d / "secrets").write_text(secrets)
        (d / "files.tsv").write_text("")

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.root / "shared/lib/run_step.sh"), *args], input=stdin, capture_output=True,
            text=True, env=clean_env(self.root.parent, IK_STATE_DIR=str(self.state)), timeout=60, check=False,
        )

    @property
    def ran(self) -> bool:
        return (self.root / "ran").exists()


@pytest.fixture
def bundle(tmp_path: Path) -> Bundle:
    require_root()
    root = tmp_path / "bundle"
    (root / "shared/test").mkdir(parents=True)
    shutil.copytree(LIB, root / "shared/lib")
    (root / "shared/test/probe.sh").write_text(PROBE)
    root.chmod(0o700)
    return Bundle(root, tmp_path / "state")


def test_runs_the_step_with_params_and_context(bundle: Bundle) -> None:
    bundle.step(params=f"GREETING={shlex.quote(chr(39) + 'hi there')}\n")
    r = bundle.run("probe", HASH, "203.0.113.7")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "param='hi there"
    assert lines[1] == "step=probe dir=probe bundle=bundle client=203.0.113.7"
    assert "stdin=empty" in lines, "the script's stdin is /dev/null"
    assert lines[-1] == "infrakit: step=probe changed=0"
    assert (bundle.state / "probe.hash").read_text() == HASH + "\n"
    assert "step=probe" in (bundle.state / "last-apply").read_text()


def test_hash_mismatch_refuses_and_runs_nothing(bundle: Bundle) -> None:
    """A stale bundle (the caller planned other bytes) must never run."""
    bundle.step()
    r = bundle.run("probe", "cd" * 32)
    assert r.returncode == 3
    assert "bundle is stale or step unknown" in r.stderr
    assert not bundle.ran and not (bundle.state / "probe.hash").exists()


def test_unknown_step(bundle: Bundle) -> None:
    r = bundle.run("nosuch", HASH)
    assert r.returncode == 3 and "bundle is stale or step unknown" in r.stderr


@pytest.mark.parametrize("args", [(), ("probe",), ("Bad-Name", HASH), ("probe", "xyz"), ("probe", HASH, "1.2.3.4;id"),
                                  ("probe", HASH, "1.2.3.4", "extra")])
def test_bad_arguments(bundle: Bundle, args: tuple[str, ...]) -> None:
    bundle.step()
    r = bundle.run(*args)
    assert r.returncode == 2, r.stderr
    assert not bundle.ran


def test_script_outside_the_bundle_is_refused(bundle: Bundle) -> None:
    bundle.step()
    (bundle.root / "steps/probe/script").write_text("shared/../../etc/evil.sh\n")
    r = bundle.run("probe", HASH)
    assert r.returncode == 3 and not bundle.ran


def test_secrets_are_passed_and_never_printed(bundle: Bundle) -> None:
    bundle.step(secrets="TOKEN\n")
    r = bundle.run("probe", HASH, stdin=f"TOKEN={SECRET}\n")
    assert r.returncode == 0, r.stderr
    assert f"secret_len={len(SECRET)}" in r.stdout
    assert SECRET not in r.stdout + r.stderr
    assert not any(SECRET in p.read_text() for p in bundle.state.iterdir() if p.is_file())


@pytest.mark.parametrize("stdin", [f"TOKEN={SECRET}\nOTHER=x\n", "", f"TOKEN={SECRET}\nTOKEN=again\n", SECRET])
def test_wrong_secrets_on_stdin_refuse(bundle: Bundle, stdin: str) -> None:
    bundle.step(secrets="TOKEN\n")
    r = bundle.run("probe", HASH, stdin=stdin)
    assert r.returncode == 4
    assert not bundle.ran
    assert SECRET not in r.stdout + r.stderr


def test_params_do_not_clash_with_the_runner(bundle: Bundle) -> None:
    """Adapters pick parameter names freely; none may break the runner's own variables."""
    bundle.step(params="LOCK_TIMEOUT=5\nSTEP_RE=x\nHASH_RE=y\nSCRIPT_RE=z\nGREETING=ok\n")
    r = bundle.run("probe", HASH)
    assert r.returncode == 0, r.stderr
    assert "param=ok" in r.stdout


def test_stdin_is_ignored_without_declared_secrets(bundle: Bundle) -> None:
    bundle.step()
    r = bundle.run("probe", HASH, stdin="TOKEN=whatever\n")
    assert r.returncode == 0 and "secret_len=0" in r.stdout


def test_exit_code_propagates_and_state_is_not_recorded(bundle: Bundle) -> None:
    bundle.step(params="PROBE_EXIT=7\n")
    r = bundle.run("probe", HASH)
    assert r.returncode == 7
    assert bundle.ran and not (bundle.state / "probe.hash").exists()


def test_world_writable_bundle_is_refused(bundle: Bundle) -> None:
    bundle.step()
    bundle.root.chmod(0o777)
    r = bundle.run("probe", HASH)
    assert r.returncode == 1 and "not group/world-writable" in r.stderr
    assert not bundle.ran


def _os_release(tmp: Path) -> str:
    path = tmp / "os-release"
    path.write_text('ID=debian\nVERSION_ID="12"\n')
    return str(path)


def test_install_env_end_to_end(bundle: Bundle, tmp_path: Path) -> None:
    """run_step + install_env.sh: the secret lands only in the 0600 file, is never printed,
    and a second run with the same value changes nothing."""
    shutil.copytree(LIB.parent / "services", bundle.root / "shared/services")
    dest = tmp_path / "etc" / "node.env"
    d = bundle.root / "steps/node_env"
    (d / "files").mkdir(parents=True)
    (d / "script").write_text("shared/services/install_env.sh\n")
    (d / "hash").write_text(HASH + "\n")
    (d / "params.env").write_text("")
    (d / "secrets").write_text("TOKEN\n")
    (d / "files.tsv").write_text(f"node.env\t0600\troot:root\t{dest}\n")
    (d / "files/node.env").write_text("INFRAKIT_STACK=test\n")

    def run(value: str) -> subprocess.CompletedProcess[str]:
        env = clean_env(tmp_path, IK_STATE_DIR=str(bundle.state), IK_OS_RELEASE_FILE=_os_release(tmp_path))
        return subprocess.run(["bash", str(bundle.root / "shared/lib/run_step.sh"), "node_env", HASH],
                              input=f"TOKEN={value}\n", capture_output=True, text=True, env=env, check=False)

    first, second, rotated = run(SECRET), run(SECRET), run(SECRET + "-2")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "infrakit: step=node_env changed=1\n"
    assert second.stdout == "infrakit: step=node_env changed=0\n"
    assert rotated.stdout == "infrakit: step=node_env changed=1\n"
    assert dest.read_text() == f"INFRAKIT_STACK=test\nTOKEN={SECRET}-2\n"
    assert oct(dest.stat().st_mode & 0o777) == "0o600"
    for r in (first, second, rotated):
        assert SECRET not in r.stdout + r.stderr
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p != dest and SECRET in p.read_text(errors="ignore")]
    assert leftovers == [], f"secret copies left behind: {leftovers}"
