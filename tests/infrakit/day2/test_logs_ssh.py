"""`infrakit logs` reads the journal of the stack's own services; `infrakit ssh` logs in with
the stack's user and port and refuses a host whose key is not pinned."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters import registry
from adapters.registry import REGISTRY
from infrakit.config import load_stack
from infrakit.day2.address import AddressError, Login
from infrakit.day2.cli import journal_command, ssh_argv, stack_units


def test_every_service_of_the_stack_by_default() -> None:
    units = stack_units(load_stack("lab", REGISTRY), None)
    assert units == ["infrakit-status.service", "infrakit-probe.timer", "prometheus-node-exporter.service"]


@pytest.mark.parametrize("name", ["status-server", "infrakit-status.service", "infrakit-status"])
def test_one_service_by_name_or_unit(name: str) -> None:
    assert stack_units(load_stack("lab", REGISTRY), name) == ["infrakit-status.service"]


def test_an_unknown_service_lists_the_known_ones() -> None:
    with pytest.raises(AddressError, match=r"no service 'nginx' \(its services: status-server \(infrakit-status"):
        stack_units(load_stack("lab", REGISTRY), "nginx")


def test_journal_command() -> None:
    assert journal_command(["a.service", "b.timer"], lines=50, follow=True) == (
        "sudo -n journalctl --no-pager -o short-iso -n 50 -u a.service -u b.timer -f"
    )


def test_ssh_argv_pins_the_host_key() -> None:
    login = Login("10.199.7.2", "ops", 2222, Path("/k/id"), Path("/k/known"))
    assert ssh_argv(login, ["uname", "-a"]) == [
        "ssh", "-p", "2222", "-o", "UserKnownHostsFile=/k/known", "-o", "StrictHostKeyChecking=yes",
        "-i", "/k/id", "-o", "IdentitiesOnly=yes", "ops@10.199.7.2", "--", "uname", "-a",
    ]  # fmt: skip


def test_ssh_refuses_an_unpinned_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = registry.main(["ssh", "lab", "--known-hosts", str(tmp_path / "empty"), "--", "true"])
    assert code == 1
    assert "no host key for 10.199.0.2" in capsys.readouterr().err


def test_double_dash_is_only_for_ssh(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        registry.main(["plan", "lab", "--", "x"])
    assert "only for `infrakit ssh`" in capsys.readouterr().err
