"""Pinned versions and what they must survive: the next fork per network, per-version URL parts,
the publishers' checksums and signing keys, and rollbacks a client's database cannot take."""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.ethereum import forks
from infrakit.artifacts.cli import cmd_lock
from infrakit.artifacts.lock import read_lock
from infrakit.artifacts.manifest import ManifestError, read_manifest
from infrakit.config import ConfigError
from infrakit.plan import build_plan
from infrakit.plan.sources import PROJECT_ROOT
from tests.adapters.ethereum.conftest import EthStack, eth_stack, write_test_lock
from tests.adapters.ethereum.test_render import exec_start, unit

MANIFEST = PROJECT_ROOT / "adapters" / "ethereum" / "versions.toml"
GUARD = PROJECT_ROOT / "adapters" / "ethereum" / "scripts" / "rollback_guard.sh"


# ------------------------------------------------------------------- forks ----


def test_the_fork_table_records_each_network_and_its_source() -> None:
    table = {(f.fork, f.network): f for f in forks.forks()}
    sepolia, hoodi, mainnet = (table[("glamsterdam", n)] for n in ("sepolia", "hoodi", "mainnet"))
    assert (sepolia.status, sepolia.epoch, sepolia.at) == ("active", 353024, "2026-10-06T13:53:36Z")
    assert (hoodi.status, hoodi.epoch, hoodi.at) == ("scheduled", 143616, "2026-12-15T19:12:24Z")
    assert mainnet.status == "unscheduled"
    assert all(f.source for f in table.values()), "every fork fact says where it was read"


def test_every_pinned_client_supports_the_fork_active_on_sepolia() -> None:
    manifest = read_manifest(MANIFEST)
    pinned = {name: spec.version for name, spec in manifest.artifacts.items()}
    assert forks.readiness_warnings("s", "sepolia", pinned) == []
    assert forks.readiness_warnings("s", "mainnet", pinned) == []


def test_validate_warns_when_a_pin_is_older_than_the_forks_minimum(eth_values: EthStack, tmp_path: Path) -> None:
    lock = write_test_lock(tmp_path, {"geth": ["1.17.9"], "lighthouse": ["8.2.1"], "mev-boost": ["1.10.1"]})
    values = eth_values(
        role="node",
        network="sepolia",
        chainSettings={"artifacts": {"lockFile": str(lock)}, "versions": {"geth": "1.17.9", "lighthouse": "8.2.1"}},
    )
    warnings = build_plan(eth_stack(values, name="eth-old")).warnings
    assert list(warnings) == [
        "stack 'eth-old': infrakit:chainSettings.versions.lighthouse: glamsterdam is active on sepolia since "
        "2026-10-06T13:53:36Z; lighthouse 8.2.1 is older than 8.3.0, the oldest release known to support it there: "
        "pin 8.3.0 or later"
    ], "geth 1.17.9 is the minimum itself: no warning"


def test_validate_warns_when_no_release_is_known_for_a_scheduled_fork(eth_values: EthStack) -> None:
    """Hoodi forks on 2026-12-15; only nimbus's release for that date could be read."""
    warnings = build_plan(eth_stack(eth_values(role="node"), name="eth-h")).warnings
    assert any(
        "versions.geth: glamsterdam is scheduled on hoodi at 2026-12-15T19:12:24Z, and no release of geth" in w
        for w in warnings
    )
    nimbus = build_plan(
        eth_stack(eth_values(role="node", chainSettings={"consensus": {"client": "nimbus"}}), name="eth-n")
    ).warnings
    assert not any("versions.nimbus" in w for w in nimbus)


def test_version_comparison_is_numeric() -> None:
    assert forks.older("1.17.9", "1.17.10") and not forks.older("1.17.10", "1.17.9")
    assert forks.older("8.2.1", "8.3.0") and not forks.older("26.11.2", "26.10.1")


# -------------------------------------------------------------- ePBS / MEV ----


def test_no_mev_boost_where_epbs_is_active(eth_values: EthStack) -> None:
    """With enshrined PBS (EIP-7732) the beacon node takes builder bids itself: a mev-boost
    sidecar and the pre-Gloas builder flags would do nothing (prysm: 'have no effect')."""
    plan = build_plan(eth_stack(eth_values(network="sepolia")))
    assert "unit_mevboost" not in {p.step.name for p in plan.steps}
    assert "--builder" not in exec_start(unit(plan, "beacon"))
    assert "--builder-proposals" not in exec_start(unit(plan, "validator"))
    with pytest.raises(
        ConfigError,
        match=r"infrakit:chainSettings\.mevBoost\.enabled: Glamsterdam .* active on "
        r"sepolia",
    ):
        build_plan(eth_stack(eth_values(network="sepolia", chainSettings={"mevBoost": {"enabled": True}})))


def test_mev_boost_stays_before_the_fork_and_warns_where_it_is_scheduled(eth_values: EthStack) -> None:
    hoodi = build_plan(eth_stack(eth_values()))
    assert "unit_mevboost" in {p.step.name for p in hoodi.steps}
    assert any("mevBoost: Glamsterdam (ePBS, EIP-7732) is scheduled on hoodi" in w for w in hoodi.warnings)
    mainnet = build_plan(eth_stack(eth_values(network="mainnet")))
    assert "unit_mevboost" in {p.step.name for p in mainnet.steps}
    assert not any("mevBoost" in w for w in mainnet.warnings)


def test_validate_says_when_a_scheduled_fork_time_has_passed() -> None:
    """The fork table is data: once hoodi's Glamsterdam time has passed, a table still saying
    'scheduled' keeps mev-boost and refuses nothing. validate says so, naming what to change."""
    before = datetime(2026, 12, 15, 19, 12, 23, tzinfo=UTC)
    after = datetime(2026, 12, 15, 19, 12, 25, tzinfo=UTC)
    assert forks.stale_schedule_warnings("eth-x", "hoodi", now=before) == []
    (line,) = forks.stale_schedule_warnings("eth-x", "hoodi", now=after)
    assert line.startswith(
        "stack 'eth-x': infrakit:network: glamsterdam was scheduled on hoodi at 2026-12-15T19:12:24Z"
    )
    assert 'status = "active"' in line and "[forks.glamsterdam.hoodi]" in line
    assert forks.stale_schedule_warnings("eth-x", "mainnet", now=after) == []  # unscheduled: nothing to say
    assert forks.stale_schedule_warnings("eth-x", "sepolia", now=after) == []  # already active


# ------------------------------------------------------- per-version URL parts ----


def test_a_pinned_version_never_borrows_another_versions_commit() -> None:
    """geth 1.16.8 with 1.16.7's commit id is a URL that does not exist."""
    geth = read_manifest(MANIFEST).get("geth")
    assert geth.url("1.16.7").endswith("geth-linux-amd64-1.16.7-b9f3a3d9.tar.gz")
    with pytest.raises(ManifestError, match=r'geth 1\.16\.8: commit differs per release .*releases\."1\.16\.8"'):
        geth.url("1.16.8")
    assert read_manifest(MANIFEST).get("jre").url().endswith("OpenJDK21U-jre_x64_linux_hotspot_21.0.9_10.tar.gz")


# Pins whose file-name commit could not be read anywhere (SOURCES.md, versions.toml): `infrakit lock`
# refuses them until it is recorded. Recording one makes the test below fail until it leaves this set.
COMMIT_NOT_RECORDED = {"geth 1.17.10", "nimbus 26.11.2"}


def test_every_pin_records_its_per_release_url_parts() -> None:
    """A pin without its commit id has no download URL: it can be neither locked nor installed, and
    borrowing another release's commit is refused. Every pinned release records it (8 hex digits,
    the file-name form, starting with the release tag's commit where that was read) except the
    listed gaps."""
    manifest = read_manifest(MANIFEST)
    missing = set()
    for spec in manifest.artifacts.values():
        own = spec.releases.get(spec.version, {})
        for key in spec.per_version:
            value = own.get(key, "")
            if not value:
                missing.add(f"{spec.name} {spec.version}")
            elif key == "commit":
                assert re.fullmatch(r"[0-9a-f]{8}", value), f"{spec.name} {spec.version}: commit {value!r}"
                assert value.startswith(own.get("tag_commit", "")), f"{spec.name}: file commit vs tag commit"
        if spec.per_version and f"{spec.name} {spec.version}" not in missing:
            assert all(own[key] in spec.url(spec.version) for key in spec.per_version), spec.name
    assert missing == COMMIT_NOT_RECORDED


def test_a_per_version_key_outside_the_releases_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        '[artifacts.x]\nversion = "1"\nurl = "https://e.example/x-{commit}.tgz"\ncommit = "ab"\n'
        'per_version = ["commit"]\nbinaries = ["x"]\n'
    )
    with pytest.raises(ManifestError, match="per_version, so it belongs in the releases tables"):
        read_manifest(path)


# --------------------------------------------------- checksums and signatures ----


@pytest.fixture
def www(tmp_path: Path) -> Iterator[tuple[Path, str, list[str]]]:
    root = tmp_path / "www"
    root.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()


def lock_with(tmp_path: Path, body: str, *artifacts: str) -> tuple[int, Path]:
    manifest, lock = tmp_path / "versions.toml", tmp_path / "lock.toml"
    manifest.write_text(body)
    code = cmd_lock(argparse.Namespace(artifacts=list(artifacts), manifest=str(manifest), lock=str(lock), check=False))
    return code, lock


@pytest.mark.parametrize(
    ("kind", "listing"),
    [
        ("sha256", "{digest}  tool-1.0.tar.gz\n{other}  tool-1.0.zip\n"),  # a checksums.txt (mev-boost)
        ("sha512", "{digest}  build/tool-1.0.tar.gz\n"),  # nimbus .sha512sum
        ("sha256", "{digest}\n"),  # a bare .sha256 (prysm)
    ],
)
def test_lock_checks_the_publishers_checksum_file(tmp_path: Path, www, kind: str, listing: str) -> None:
    root, url, _ = www
    data = b"release bytes"
    (root / "tool-1.0.tar.gz").write_bytes(data)
    digest = hashlib.new(kind, data).hexdigest()
    body = (
        f'[artifacts.tool]\nversion = "1.0"\nurl = "{url}/tool-{{version}}.tar.gz"\nbinaries = ["tool"]\n'
        f'checksum_url = "{{url}}.sums"\nchecksum_kind = "{kind}"\n'
    )
    (root / "tool-1.0.tar.gz.sums").write_text(listing.format(digest=digest, other="0" * len(digest)))
    code, lock = lock_with(tmp_path, body)
    entry = read_lock(lock).find("tool", "1.0")
    assert code == 0 and entry and entry.locked and entry.checksum == f"{kind}:{url}/tool-1.0.tar.gz.sums"
    (root / "tool-1.0.tar.gz.sums").write_text(listing.format(digest="f" * len(digest), other="0" * len(digest)))
    code, lock = lock_with(tmp_path, body)
    assert code == 1, "a download that does not match the published checksum must not lock"


def test_lock_refuses_a_checksum_file_that_does_not_list_the_file(tmp_path: Path, www) -> None:
    root, url, _ = www
    (root / "tool-1.0.tar.gz").write_bytes(b"x")
    (root / "sums.txt").write_text(f"{'a' * 64}  something-else.tar.gz\n")
    code, lock = lock_with(
        tmp_path,
        f'[artifacts.tool]\nversion = "1.0"\nurl = "{url}/tool-{{version}}.tar.gz"\n'
        f'binaries = ["tool"]\nchecksum_url = "{url}/sums.txt"\n',
    )
    assert code == 1 and "does not list this file" in read_lock(lock).find("tool", "1.0").note  # type: ignore[union-attr]


def test_lock_refuses_before_downloading_when_the_signing_key_is_missing(tmp_path: Path, www) -> None:
    """The publishers' keys cannot be downloaded here: `lock` must refuse, never record 'checked'."""
    root, url, requests = www
    (root / "tool-1.0.tar.gz").write_bytes(b"x")
    code, lock = lock_with(
        tmp_path,
        f'[artifacts.tool]\nversion = "1.0"\nurl = "{url}/tool-{{version}}.tar.gz"\n'
        'binaries = ["tool"]\nsignature_url = "{url}.asc"\nsigning_key = "keys/t.asc"\n'
        f'signing_fingerprint = "{"AB" * 20}"\n',
    )
    entry = read_lock(lock).find("tool", "1.0")
    assert code == 1 and entry and not entry.locked and "keys/t.asc is not in the repository" in entry.note
    assert requests == [], "nothing is downloaded for an artifact that cannot be verified"


def test_lock_refuses_an_artifact_whose_url_part_is_not_recorded(tmp_path: Path, www) -> None:
    _, url, requests = www
    code, lock = lock_with(
        tmp_path,
        f'[artifacts.tool]\nversion = "2.0"\nurl = "{url}/tool-{{version}}-{{commit}}.tgz"'
        '\nper_version = ["commit"]\nbinaries = ["tool"]\n'
        '[artifacts.tool.releases."1.0"]\ncommit = "abcdef12"\n',
    )
    entry = read_lock(lock).find("tool", "2.0")
    assert code == 1 and entry and "commit differs per release" in entry.note and requests == []


def _gpg(home: Path, *args: str) -> str:
    return subprocess.run(
        ["gpg", "--batch", "--no-tty", "--homedir", str(home), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg not installed")
def test_lock_refuses_a_key_file_that_is_not_the_pinned_fingerprint(tmp_path: Path, www) -> None:
    root, url, _ = www
    home = tmp_path / "gpg"
    home.mkdir(mode=0o700)
    _gpg(home, "--passphrase", "", "--quick-gen-key", "Signer <s@example.invalid>", "ed25519", "sign", "never")
    (root / "tool-1.0.tar.gz").write_bytes(b"signed")
    _gpg(home, "--detach-sign", "--armor", "-o", str(root / "tool-1.0.tar.gz.asc"), str(root / "tool-1.0.tar.gz"))
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "t.asc").write_text(_gpg(home, "--export", "--armor"))
    real = _gpg(home, "--with-colons", "--fingerprint").split("fpr:::::::::")[1].split(":")[0]
    body = (
        f'[artifacts.tool]\nversion = "1.0"\nurl = "{url}/tool-{{version}}.tar.gz"\nbinaries = ["tool"]\n'
        'signature_url = "{url}.asc"\nsigning_key = "keys/t.asc"\nsigning_fingerprint = "%s"\n'
    )
    code, lock = lock_with(tmp_path, body % ("CD" * 20))
    assert code == 1 and "is not CDCD" in read_lock(lock).find("tool", "1.0").note  # type: ignore[union-attr]
    code, lock = lock_with(tmp_path, body % real)
    assert code == 0 and read_lock(lock).find("tool", "1.0").signature == f"gpg:{real}"  # type: ignore[union-attr]


def test_the_real_manifest_uses_every_published_checksum_and_signer() -> None:
    """CLIENTS.md lists what each publisher ships; the manifest must check all of it."""
    m = read_manifest(MANIFEST)
    assert m.get("prysm-beacon").checksum_template == "{url}.sha256"
    assert m.get("prysm-validator").checksum_template == "{url}.sha256"
    assert (m.get("nimbus").checksum_template, m.get("nimbus").checksum_kind) == ("{url}.sha512sum", "sha512")
    assert m.get("mev-boost").checksum_template.endswith("/checksums.txt")
    assert m.get("jre").signature_template and m.get("jre").checksum_template
    assert m.get("lighthouse").signing_fingerprint == "15E66D941F697E28F49381F426416DC3F30674B0"
    assert m.get("reth").signing_fingerprint == "50FB7CC55B2E8AFA59FE03B7AA5ED56A7FBF253E"
    assert m.get("nethermind").signing_fingerprint == "AD1279765093C6759CD8A40024A774616F1E617E"


def test_locking_the_real_manifest_refuses_without_the_publishers_keys(tmp_path: Path) -> None:
    """No key is in the repository (none could be downloaded here): lock refuses before any download."""
    lock = tmp_path / "lock.toml"
    code = cmd_lock(
        argparse.Namespace(artifacts=["lighthouse", "reth"], manifest=str(MANIFEST), lock=str(lock), check=False)
    )
    assert code == 1
    for name in ("lighthouse", "reth"):
        entry = read_lock(lock).find(name, read_manifest(MANIFEST).get(name).version)
        assert entry and not entry.locked and "is not in the repository" in entry.note


# ------------------------------------------------------------------ rollback ----


def guard(tmp_path: Path, current: dict[str, str], artifacts: str) -> subprocess.CompletedProcess[str]:
    root = tmp_path / "opt"
    for name, version in current.items():
        (root / name / version).mkdir(parents=True, exist_ok=True)
        link = root / name / "current"
        link.unlink(missing_ok=True)
        link.symlink_to(version)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL": "C",
        "TMPDIR": str(tmp_path),
        "IK_STATE_DIR": str(tmp_path / "state"),
        "ARTIFACTS": artifacts,
        "INSTALL_ROOT": str(root),
    }
    return subprocess.run(["bash", str(GUARD)], capture_output=True, text=True, env=env, timeout=30, check=False)


@pytest.mark.parametrize(
    ("current", "artifacts", "ok", "says"),
    [
        ({}, "lighthouse=8.3.2:within-schema:8.3.0", True, ""),  # first install
        ({"lighthouse": "8.3.1"}, "lighthouse=8.3.2:within-schema:8.3.0", True, ""),  # upgrade
        ({"lighthouse": "8.3.2"}, "lighthouse=8.3.1:within-schema:8.3.0", True, "within one database schema"),
        ({"lighthouse": "8.3.2"}, "lighthouse=8.2.1:within-schema:8.3.0", False, "8.3.0 migrated the database"),
        ({"geth": "1.17.10"}, "geth=1.17.9:never:-", False, "cannot be rolled back safely"),
        ({"geth": "1.17.10"}, "geth=1.17.10:never:-", True, ""),
        ({"mev-boost": "1.10.1"}, "mev-boost=1.9.0:any:-", True, "safe (no database)"),
    ],
)
def test_rollback_guard_refuses_what_a_database_cannot_take(
    tmp_path: Path, current: dict[str, str], artifacts: str, ok: bool, says: str
) -> None:
    result = guard(tmp_path, current, artifacts)
    assert (result.returncode == 0) is ok, result.stdout + result.stderr
    assert says in result.stdout + result.stderr
    if ok:
        assert result.stdout.rstrip().splitlines()[-1] == "infrakit: step=rollback_guard changed=0"


def test_the_plan_passes_each_artifacts_rollback_policy(eth_values: EthStack) -> None:
    plan = build_plan(eth_stack(eth_values(chainSettings={"execution": {"client": "reth"}})))
    entries = plan.step("eth_rollback_guard").step.params["ARTIFACTS"].split()
    assert "reth=2.8.1:within-schema:2.8.0" in entries and "lighthouse=8.3.3:within-schema:8.3.0" in entries
    assert "mev-boost=1.10.1:any:-" in entries
