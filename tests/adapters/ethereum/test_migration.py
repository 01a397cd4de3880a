"""`ik-eth-validator migrate-from`: a consensus client change carries the keys AND the EIP-3076
slashing history over, with the old client's own binary, and never runs two clients.

Run against TEST stand-ins: the lab's lighthouse stand-in (tests/adapters/ethereum/standin.py,
which implements `account validator import` and `slashing-protection export|import`), a TEST
stand-in teku that records what it is asked to import, and the TEST systemctl stand-in.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from infrakit.plan.sources import PROJECT_ROOT
from tests.adapters.ethereum.test_validator_state import FAKE_SYSTEMCTL

TOOL = PROJECT_ROOT / "adapters" / "ethereum" / "host" / "ik-eth-validator"
STANDIN = PROJECT_ROOT / "tests" / "adapters" / "ethereum" / "standin.py"
HOODI_ROOT = "0x212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f"
PUBKEY = "b" * 96
FAKE_TEKU = """#!/bin/sh
# TEST stand-in for teku: records the slashing-protection file it is asked to import.
[ "$1" = slashing-protection ] && [ "$2" = import ] || { echo "stand-in teku: unsupported $*" >&2; exit 1; }
for arg in "$@"; do case "$arg" in --data-path=*) d="${arg#--data-path=}";; --from=*) f="${arg#--from=}";; esac; done
cp "$f" "$d/teku-imported-slashing.json"
"""


@dataclass
class Host:
    root: Path

    def env_file(self, client: str) -> Path:
        opt = self.root / "opt"
        bins = {"lighthouse": opt / "lighthouse/current/lighthouse", "teku": opt / "teku/current/bin/teku"}
        path = self.root / f"{client}.env"
        lines = {
            "CLIENT": client,
            "NETWORK": "hoodi",
            "VC_UNIT": "eth-validator.service",
            "VC_USER": "root",
            "VC_DATA": str(self.root / "validator"),
            "VC_BIN": str(bins[client]),
            "BN_BIN": str(bins[client]),
            "BEACON_API": "http://127.0.0.1:5052",
            "KEYS_MARKER": str(self.root / "validator" / ".marker"),
            "INSTALL_ROOT": str(opt),
            "GENESIS_VALIDATORS_ROOT": HOODI_ROOT,
        }
        path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        return path

    def tool(self, client: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": f"{self.root / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin",
            "LC_ALL": "C",
            "IK_ETH_ENV": str(self.env_file(client)),
            "FAKE_SYSTEMD": str(self.root / "systemd"),
        }
        return subprocess.run(
            ["bash", str(TOOL), *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )


def executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def host(tmp_path: Path) -> Host:
    executable(tmp_path / "bin" / "systemctl", FAKE_SYSTEMCTL)
    (tmp_path / "systemd").mkdir()
    executable(tmp_path / "opt/lighthouse/current/lighthouse", STANDIN.read_text().replace("@VERSION@", "1.0.0"))
    executable(tmp_path / "opt/teku/current/bin/teku", FAKE_TEKU)
    (tmp_path / "validator").mkdir(mode=0o700)
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "keystore-m_12381_3600_0_0_0.json").write_text(json.dumps({"crypto": {}, "pubkey": PUBKEY}))
    (tmp_path / "pw").write_text("correct horse")
    record = {"pubkey": "0x" + PUBKEY, "signed_blocks": [{"slot": "81952"}], "signed_attestations": []}
    (tmp_path / "history.json").write_text(
        json.dumps(
            {"metadata": {"interchange_format_version": "5", "genesis_validators_root": HOODI_ROOT}, "data": [record]}
        )
    )
    h = Host(tmp_path)
    for args in (
        ("import-keys", "--keys-dir", str(keys), "--password-file", str(tmp_path / "pw")),
        ("slashing-import", str(tmp_path / "history.json")),
    ):
        result = h.tool("lighthouse", *args)
        assert result.returncode == 0, result.stderr
    return h


def test_keys_marker_names_the_client(host: Host) -> None:
    assert (host.root / "validator" / ".marker").read_text().startswith("client=lighthouse\n")
    assert "keys_imported=lighthouse" in host.tool("lighthouse", "status").stdout


def test_migration_carries_keys_and_history_to_the_new_client(host: Host) -> None:
    args = (
        "migrate-from",
        "lighthouse",
        "--keys-dir",
        str(host.root / "keys"),
        "--password-file",
        str(host.root / "pw"),
    )
    result = host.tool("teku", *args)
    assert result.returncode == 0, result.stderr
    vc = host.root / "validator"
    assert sorted(p.name for p in (vc / "keys").iterdir()) == ["keystore-m_12381_3600_0_0_0.json"]
    imported = json.loads((vc / "teku-imported-slashing.json").read_text())
    assert imported["data"][0]["signed_blocks"] == [{"slot": "81952"}], "the old client's history reached teku"
    assert (vc / ".marker").read_text().startswith("client=teku\n")
    (retired,) = host.root.glob("validator-retired-lighthouse-*")
    assert (retired / "data" / "validators" / f"0x{PUBKEY}" / "voting-keystore.json").is_file()
    assert (retired / "slashing-protection-lighthouse.json").is_file(), "the exported history is kept"
    assert not (vc / "validators").exists(), "the old client's keys are no longer where any client loads them"
    assert not list(vc.glob(".import.*")) and not list(vc.glob(".slashing.*")), "no staged copy left behind"


def test_migration_is_refused_while_a_validator_runs(host: Host) -> None:
    (host.root / "systemd" / "eth-validator.service.active").touch()
    result = host.tool(
        "teku",
        "migrate-from",
        "lighthouse",
        "--keys-dir",
        str(host.root / "keys"),
        "--password-file",
        str(host.root / "pw"),
    )
    assert result.returncode == 3 and "never run two signers" in result.stderr
    assert (host.root / "validator" / "validators").is_dir(), "nothing moved"


def test_migration_from_a_client_that_does_not_hold_the_keys_is_refused(host: Host) -> None:
    result = host.tool(
        "teku", "migrate-from", "prysm", "--keys-dir", str(host.root / "keys"), "--password-file", str(host.root / "pw")
    )
    assert result.returncode != 0 and "not recorded as prysm's" in result.stderr
