"""Where the day-2 commands connect: the stack's address, or an hcloud stack's Pulumi output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapters.registry import REGISTRY
from infrakit import project
from infrakit.config import load_stack
from infrakit.day2 import address
from infrakit.day2.address import AddressError, has_pinned_key, login_for
from infrakit.plan.sources import PROJECT_ROOT

# A TEST STAND-IN for the engine wrapper scripts/pulumi (the real one runs the Pulumi CLI):
# it answers `stack output --json -s STACK` the way Pulumi does, from a file.
STANDIN = """#!/bin/sh
# TEST STAND-IN for scripts/pulumi: prints outputs.json for `stack output --json -s hardened-hcloud`
[ "$1 $2 $3 $4 $5" = "stack output --json -s hardened-hcloud" ] || { echo "unexpected: $*" >&2; exit 9; }
cat "$(dirname "$0")/outputs.json"
"""


@pytest.fixture
def operator_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An operator's project with InfraKit's hardened-hcloud stack, selected as the current project."""
    repo = tmp_path / "repo"
    (repo / "stacks").mkdir(parents=True)
    (repo / "Pulumi.yaml").write_text("name: ops\nruntime: python\nstackConfigDir: stacks\n")
    shutil.copy(PROJECT_ROOT / "stacks" / "Pulumi.hardened-hcloud.yaml", repo / "stacks")
    monkeypatch.setattr(project, "_selected", None)
    monkeypatch.chdir(repo)
    return repo


def with_standin(repo: Path, outputs: str) -> None:
    wrapper = repo / "scripts" / "pulumi"
    wrapper.parent.mkdir()
    wrapper.write_text(STANDIN)
    wrapper.chmod(0o755)
    (wrapper.parent / "outputs.json").write_text(outputs)


def test_an_existing_host_comes_from_the_stack() -> None:
    login = login_for(load_stack("lab", REGISTRY), host=None, identity=None, known_hosts=None)
    assert (login.host, login.user, login.port) == ("10.199.0.2", "ops", 22)


def test_host_option_names_address_user_and_port() -> None:
    login = login_for(load_stack("lab", REGISTRY), host="admin@10.199.7.2:2222", identity=None, known_hosts="/k")
    assert (login.host, login.user, login.port, str(login.known_hosts)) == ("10.199.7.2", "admin", 2222, "/k")


def test_hcloud_address_from_the_pulumi_outputs(operator_repo: Path) -> None:
    with_standin(operator_repo, '{"address": "203.0.113.9", "planHash": "ab"}')
    login = login_for(load_stack("hardened-hcloud", REGISTRY), host=None, identity=None, known_hosts=None)
    assert login.host == "203.0.113.9"


def test_hcloud_without_the_engine_says_so(operator_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # only the operator's project is looked at here (InfraKit's checkout may have the wrapper)
    monkeypatch.setattr(address, "pulumi_wrappers", lambda: [operator_repo / "scripts" / "pulumi"])
    with pytest.raises(
        AddressError,
        match=r"hcloud stack: its address is a Pulumi output, and the Pulumi engine "
        r"wrapper is not installed here .*--host ADDRESS",
    ):
        login_for(load_stack("hardened-hcloud", REGISTRY), host=None, identity=None, known_hosts=None)


def test_hcloud_before_the_first_up_says_so(operator_repo: Path) -> None:
    with_standin(operator_repo, "{}")
    with pytest.raises(AddressError, match=r"has no 'address' output yet"):
        login_for(load_stack("hardened-hcloud", REGISTRY), host=None, identity=None, known_hosts=None)


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(AddressError, match=r"identity file .*nope does not exist"):
        login_for(load_stack("lab", REGISTRY), host=None, identity=str(tmp_path / "nope"), known_hosts=None)


def test_pinned_host_key_lookup(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    key = (PROJECT_ROOT / "infrakit_lab" / "insecure_key" / "lab_admin_ed25519.pub").read_text().split()[:2]
    known.write_text(f"10.199.0.2 {' '.join(key)}\n[10.199.0.3]:2222 {' '.join(key)}\n")
    login = login_for(load_stack("lab", REGISTRY), host=None, identity=None, known_hosts=str(known))
    assert has_pinned_key(login)
    lab = load_stack("lab", REGISTRY)
    assert has_pinned_key(login_for(lab, host="10.199.0.3:2222", identity=None, known_hosts=str(known)))
    assert not has_pinned_key(login_for(lab, host="10.199.0.3", identity=None, known_hosts=str(known)))
