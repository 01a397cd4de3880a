"""Unit tests of the lab manager that need neither root nor a boot."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from infrakit_lab import cli, config, mirror, network, packages
from infrakit_lab.errors import LabError
from infrakit_lab.rootfs import default_recipe


def test_default_host_is_index_zero_and_others_are_stable() -> None:
    """The printed SSH command and the lab stack file hard-code 10.199.0.2 for 'lab'."""
    assert config.host_index("lab") == 0
    assert network.addresses_for("lab").guest == "10.199.0.2"
    assert network.addresses_for("lab").host_side == "10.199.0.1"
    for name in ("a", "node-1", "t-lab", "abcdefghijk"):
        idx = config.host_index(name)
        assert 1 <= idx <= 254, name
        assert idx == config.host_index(name), name


@pytest.mark.parametrize("name", ["", "Lab", "1lab", "lab_1", "abcdefghijkl", "a b"])
def test_names_that_nspawn_would_truncate_or_reject_are_refused(name: str) -> None:
    """ve-NAME must fit 15 characters, or nspawn renames the veth and the lab loses it."""
    with pytest.raises(LabError):
        config.validate_name(name)


def test_state_and_cache_dirs_follow_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INFRAKIT_LAB_STATE", str(tmp_path / "s"))
    monkeypatch.setenv("INFRAKIT_LAB_CACHE", str(tmp_path / "c"))
    assert config.state_dir() == tmp_path / "s"
    assert config.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("INFRAKIT_LAB_STATE")
    assert config.state_dir() == Path("/var/lib/infrakit/lab")


def test_mirror_is_read_from_the_hosts_apt_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """debootstrap and the guests must use the mirror the host's apt uses, not a guess."""
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "debian.sources").write_text(
        "Types: deb\n# comment\nURIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n"
    )
    (d / "other.list.disabled").write_text("deb http://wrong.example/debian bookworm main\n")
    monkeypatch.setattr(mirror, "APT_SOURCES", tmp_path / "missing")
    monkeypatch.setattr(mirror, "APT_SOURCES_DIR", d)
    monkeypatch.delenv("INFRAKIT_LAB_MIRROR", raising=False)
    monkeypatch.delenv("INFRAKIT_LAB_SECURITY_MIRROR", raising=False)
    m = mirror.host_mirror()
    assert m.debian == "http://mirror.example/debian"
    assert m.security == "http://mirror.example/debian-security"
    assert m.hostnames() == ["mirror.example"]


def test_one_line_sources_and_derived_security_mirror(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    listing = tmp_path / "sources.list"
    listing.write_text(
        "# x\ndeb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64] http://m.example/debian/ bookworm main\n"
    )
    monkeypatch.setattr(mirror, "APT_SOURCES", listing)
    monkeypatch.setattr(mirror, "APT_SOURCES_DIR", tmp_path / "none")
    monkeypatch.delenv("INFRAKIT_LAB_MIRROR", raising=False)
    monkeypatch.delenv("INFRAKIT_LAB_SECURITY_MIRROR", raising=False)
    m = mirror.host_mirror()
    assert m == mirror.Mirror("http://m.example/debian", "http://m.example/debian-security")


def test_no_mirror_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(mirror, "APT_SOURCES", tmp_path / "missing")
    monkeypatch.setattr(mirror, "APT_SOURCES_DIR", tmp_path / "none")
    monkeypatch.delenv("INFRAKIT_LAB_MIRROR", raising=False)
    with pytest.raises(LabError, match="INFRAKIT_LAB_MIRROR"):
        mirror.host_mirror()


def test_static_host_entries_copy_only_the_mirror_lines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A mirror reachable by an /etc/hosts name only must be reachable from guests too."""
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n203.0.113.9\tmirror.example  # lab\n10.0.0.1 other\n")
    monkeypatch.setattr(mirror, "HOSTS_FILE", hosts)
    assert mirror.static_host_entries(["mirror.example"]) == ["203.0.113.9 mirror.example"]


def test_recipe_change_changes_the_cache_key() -> None:
    """A changed package list or setup step must rebuild, never reuse a stale rootfs."""
    recipe = default_recipe()
    assert recipe.key() == default_recipe().key()
    assert replace(recipe, packages=(*recipe.packages, "curl")).key() != recipe.key()
    assert replace(recipe, setup_script=recipe.setup_script + "true\n").key() != recipe.key()
    assert recipe.tarball().name == f"bookworm-{recipe.key()}.tar.zst"


def test_guest_network_unit_is_static() -> None:
    unit = network.guest_network_unit(network.addresses_for("lab"))
    assert "Name=host0" in unit
    assert "Address=10.199.0.2/24" in unit
    assert "Gateway=10.199.0.1" in unit


def test_missing_packages_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packages, "which", lambda tool: None if tool in ("nft", "zstd") else "/bin/x")
    with pytest.raises(LabError, match=r"missing host packages: nftables zstd"):
        packages.require_host_packages()


def test_cli_sets_a_handler_on_every_sub_command() -> None:
    """main() calls args.func: a sub-command without one would crash instead of running."""
    parser = cli.build_parser()
    for argv in (
        ["up", "--name", "x", "--keep"],
        ["down", "--all"],
        ["status"],
        ["restart"],
        ["packages"],
        ["vm", "up"],
        ["vm", "down", "--all"],
        ["vm", "status"],
    ):
        args = parser.parse_args(argv)
        assert callable(args.func), argv
    assert parser.parse_args(["up"]).name == "lab"
    with pytest.raises(SystemExit):
        parser.parse_args(["down", "--all", "--name", "x"])


def test_not_root_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Expected failures print one line, no traceback: operators read it, not a stack."""
    monkeypatch.setattr(packages.os, "geteuid", lambda: 1000)
    assert cli.main(["up"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("infrakit-lab: error: the lab needs root")
    assert err.count("\n") == 1 and "Traceback" not in err
