"""validator_state.sh against a TEST stand-in of systemctl: the validator client starts only with
keys imported into THIS client, and restarts only when its own unit changed.

A client change used to enable the new validator client with no keys and no slashing history;
every version bump of another component restarted the validator (2-3 epochs of doppelganger
silence each time).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from infrakit.plan import build_plan
from infrakit.plan.model import HostPlan
from infrakit.plan.sources import PROJECT_ROOT
from tests.adapters.ethereum.conftest import EthStack, eth_stack, write_test_lock

SCRIPT = PROJECT_ROOT / "adapters" / "ethereum" / "scripts" / "validator_state.sh"
UNIT = "eth-validator.service"
FAKE_SYSTEMCTL = r"""#!/usr/bin/env bash
# TEST stand-in for systemctl: unit state in files under $FAKE_SYSTEMD, every call logged.
d="${FAKE_SYSTEMD:?}"
printf '%s\n' "$*" >> "$d/calls"
quiet=0 args=()
for a in "$@"; do
  case "$a" in --quiet) quiet=1 ;; --*|-p|LoadState) ;; *) args+=("$a") ;; esac
done
cmd="${args[0]}" unit="${args[1]:-}"
case "$cmd" in
  list-unit-files) [[ -e "$d/$unit.exists" ]] && echo "$unit disabled enabled" ;;
  show)
    unit="${args[-1]}"
    case "$*" in
      *ActiveState*) if [[ -e "$d/$unit.active" ]]; then echo active; elif [[ -e "$d/$unit.failed" ]]; then echo failed;
        else echo inactive; fi ;;
      *ExecMainStatus*) cat "$d/$unit.failed" 2>/dev/null || echo 0 ;;
      *) [[ -e "$d/$unit.exists" ]] && echo loaded || echo not-found ;;
    esac ;;
  is-enabled) if [[ -e "$d/$unit.enabled" ]]; then echo enabled; else echo disabled; exit 1; fi ;;
  is-active)
    if [[ -e "$d/$unit.active" ]]; then ((quiet)) || echo active; else ((quiet)) || echo inactive; exit 3; fi ;;
  enable) touch "$d/$unit.enabled" ;;
  disable) rm -f "$d/$unit.enabled" ;;
  start) touch "$d/$unit.active" ;;
  stop) rm -f "$d/$unit.active" ;;
  restart) touch "$d/$unit.active"; echo "$unit" >> "$d/restarts" ;;
  *) echo "fake systemctl: unsupported $*" >&2; exit 1 ;;
esac
"""


@dataclass
class Host:
    root: Path

    @property
    def systemd(self) -> Path:
        return self.root / "systemd"

    @property
    def marker(self) -> Path:
        return self.root / "validator" / ".infrakit-keys-imported"

    def run(
        self, enabled: str = "1", client: str = "lighthouse", digest: str = "a" * 64
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": f"{self.root / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin",
            "LC_ALL": "C",
            "TMPDIR": str(self.root),
            "IK_STATE_DIR": str(self.root / "state"),
            "FAKE_SYSTEMD": str(self.systemd),
            "ENABLED": enabled,
            "CLIENT": client,
            "STOP_STATUSES": "129" if client == "nimbus" else "1",
            "UNIT_DIGEST": digest,
            "KEYS_MARKER": str(self.marker),
            "STAMP": str(self.root / "stamp" / "eth-validator.digest"),
        }
        return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=30, check=False)

    def active(self) -> bool:
        return (self.systemd / f"{UNIT}.active").exists()

    def enabled(self) -> bool:
        return (self.systemd / f"{UNIT}.enabled").exists()

    def restarts(self) -> int:
        path = self.systemd / "restarts"
        return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def host(tmp_path: Path) -> Host:
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "systemctl"
    fake.write_text(FAKE_SYSTEMCTL)
    fake.chmod(0o755)
    (tmp_path / "systemd").mkdir()
    (tmp_path / "systemd" / f"{UNIT}.exists").touch()
    (tmp_path / "validator").mkdir()
    return Host(tmp_path)


def changed(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.rstrip().splitlines()[-1]


def test_no_keys_no_start(host: Host) -> None:
    result = host.run()
    assert result.returncode != 0 and "no validator keys were imported" in result.stderr
    assert not host.active()


def test_keys_of_another_client_stop_the_validator_and_say_how_to_migrate(host: Host) -> None:
    host.marker.write_text("client=lighthouse\nimported_at=2026-12-01T00:00:00Z\n")
    assert host.run(client="lighthouse").returncode == 0 and host.active()
    result = host.run(client="teku", digest="b" * 64)
    assert result.returncode != 0
    assert "keys and slashing history are in lighthouse" in result.stderr
    assert "ik-eth-validator migrate-from lighthouse" in result.stderr
    assert not host.active() and not host.enabled(), "a client without its history must never sign"


def test_a_marker_without_a_client_is_not_guessed(host: Host) -> None:
    host.marker.write_text("2026-11-01T00:00:00Z\n")  # written by an older InfraKit
    result = host.run()
    assert result.returncode != 0 and "mark-imported lighthouse" in result.stderr and not host.active()


def test_restart_only_when_its_own_unit_changed(host: Host) -> None:
    host.marker.write_text("client=lighthouse\nimported_at=2026-12-01T00:00:00Z\n")
    first = host.run(digest="a" * 64)
    assert first.returncode == 0, first.stderr
    assert host.active() and host.enabled() and host.restarts() == 0
    again = host.run(digest="a" * 64)
    assert again.returncode == 0 and changed(again).endswith("changed=0") and host.restarts() == 0
    bumped = host.run(digest="c" * 64)
    assert bumped.returncode == 0 and host.restarts() == 1 and changed(bumped).endswith("changed=1")
    assert host.run(digest="c" * 64).returncode == 0 and host.restarts() == 1


def test_disabled_means_stopped(host: Host) -> None:
    (host.systemd / f"{UNIT}.active").touch()
    (host.systemd / f"{UNIT}.enabled").touch()
    result = host.run(enabled="0")
    assert result.returncode == 0 and "infrakit: validator=disabled" in result.stdout
    assert not host.active() and not host.enabled()


def bump_plan(eth_values: EthStack, lock: Path, **versions: str) -> HostPlan:
    pins = {"geth": "1.0.0", "lighthouse": "1.0.0", "mev-boost": "1.0.0", **versions}
    return build_plan(
        eth_stack(
            eth_values(
                chainSettings={"validator": {"enabled": True}, "artifacts": {"lockFile": str(lock)}, "versions": pins}
            )
        )
    )


def test_only_the_validators_own_binary_or_flags_reach_it(eth_values: EthStack, tmp_path: Path) -> None:
    lock = write_test_lock(
        tmp_path, {"geth": ["1.0.0", "1.0.1"], "lighthouse": ["1.0.0", "1.0.1"], "mev-boost": ["1.0.0", "1.0.1"]}
    )
    base = bump_plan(eth_values, lock)
    state = base.step("validator_state")
    assert base.step("unit_validator").step.params["RESTART_ON_CHANGE"] == "0"
    for other in ({"geth": "1.0.1"}, {"mev-boost": "1.0.1"}):
        plan = bump_plan(eth_values, lock, **other)
        assert plan.step("validator_state").hash == state.hash, f"{other} must not restart the validator"
    own = bump_plan(eth_values, lock, lighthouse="1.0.1").step("validator_state")
    assert own.hash != state.hash and own.step.params["UNIT_DIGEST"] != state.step.params["UNIT_DIGEST"]


def test_an_apply_does_not_restart_a_validator_stopped_by_doppelganger_protection(host: Host) -> None:
    """systemd does not restart it (RestartPreventExitStatus); neither may the next apply."""
    host.marker.write_text("client=nimbus\nimported_at=2026-12-01T00:00:00Z\n")
    (host.systemd / f"{UNIT}.enabled").touch()
    (host.systemd / f"{UNIT}.failed").write_text("129\n")
    result = host.run(client="nimbus")
    assert result.returncode != 0 and "doppelganger protection finds these keys live elsewhere" in result.stderr
    assert "systemctl reset-failed eth-validator.service" in result.stderr and not host.active()
    (host.systemd / f"{UNIT}.failed").write_text("2\n")  # another failure: started again as usual
    assert host.run(client="nimbus").returncode == 0 and host.active()
