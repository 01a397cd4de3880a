"""How each client really starts under systemd: ProtectSystem=strict, a home of /nonexistent,
no network at first start, its public ports, its doppelganger exit, checkpoint sync off.

A client that writes outside its ReadWritePaths aborts at start (reth did: its file logs went
to $HOME/.cache); a port the client listens on but the firewall does not open is a node with
few peers; a validator restarted after a doppelganger exit signs beside the other instance.
"""

from __future__ import annotations

import itertools
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from adapters.ethereum import clients
from infrakit.config import ConfigError
from infrakit.plan import build_plan
from infrakit.plan.model import HostPlan
from tests.adapters.ethereum.conftest import EthStack, eth_stack
from tests.adapters.ethereum.test_render import CL, EL, exec_start, unit

PAIRS = list(itertools.product(EL, CL))
READ_ONLY_OK = (
    "/opt/infrakit/",
    "/etc/ethereum/jwt.hex",
    "/bin/sh",
    "/bin/rm",
    "/usr/bin/install",
    "/etc/infrakit/eth-builders/",
)


def pair_plan(eth_values: EthStack, el: str, cl: str, role: str = "validator", **settings: object) -> HostPlan:
    values = eth_values(role=role, chainSettings={"execution": {"client": el}, "consensus": {"client": cl}, **settings})
    return build_plan(eth_stack(values))


def directive(content: str, key: str) -> list[str]:
    return re.findall(rf"^{re.escape(key)}=(.*)$", content, re.M)


def exec_start_pre(content: str, index: int = 0) -> str:
    found = re.findall(r"^ExecStartPre=(.*?)(?<!\\)$", content, re.M | re.S)
    return " ".join(re.sub(r"\\\n\s*", " ", found[index]).split()) if index < len(found) else ""


# ------------------------------------------------------------- sandbox and home ----


@pytest.mark.parametrize(("el", "cl"), PAIRS, ids=[f"{e}-{c}" for e, c in PAIRS])
def test_every_client_writes_only_where_its_sandbox_allows(eth_values: EthStack, el: str, cl: str) -> None:
    """Under ProtectSystem=strict only ReadWritePaths are writable and the service user's home
    (/nonexistent) does not exist: every path on a command line is the client's data dir, or
    something it only reads; HOME points into the data dir so a client's $HOME cache or log
    lands somewhere writable."""
    plan = pair_plan(eth_values, el, cl)
    for role in ("execution", "beacon", "validator"):
        content = unit(plan, role)
        data = f"/var/lib/ethereum/{role}"
        assert directive(content, "ReadWritePaths") == [data], role
        assert f"Environment=HOME={data}" in content, f"{role}: HOME must be writable"
        assert directive(content, "WorkingDirectory") == [data], role
        assert directive(content, "ProtectSystem") == ["strict"], role
        pres = " ".join(exec_start_pre(content, i) for i in range(3))
        words = shlex.split(exec_start(content) + " " + pres)
        for word in words:
            bare = re.sub(r"[a-z]+://\S+", "", word)  # URLs are not paths
            for path in re.findall(r"(?:^|[=:\s])(/[A-Za-z0-9_./-]+)", " " + bare):
                if path.startswith(READ_ONLY_OK) or path.startswith(data):
                    continue
                pytest.fail(f"{el}/{cl} {role}: {path} is neither read-only input nor under {data}")


def test_reth_logs_into_its_data_dir_and_runs_as_a_full_node(eth_values: EthStack) -> None:
    """reth's file logs default to $HOME/.cache/reth/logs and it aborts when it cannot create
    them; without --full it keeps all history (an archive node, several TB more)."""
    execution = exec_start(unit(pair_plan(eth_values, "reth", "lighthouse"), "execution"))
    assert "--log.file.directory /var/lib/ethereum/execution/logs" in execution
    assert " --full " in f" {execution} "
    archive = exec_start(
        unit(pair_plan(eth_values, "reth", "lighthouse", execution={"client": "reth", "archive": True}), "execution")
    )
    assert "--full" not in archive.split()


def test_nethermind_logs_into_its_data_dir(eth_values: EthStack) -> None:
    """Nethermind writes file logs to <install dir>/logs by default: root-owned and read-only."""
    execution = exec_start(unit(pair_plan(eth_values, "nethermind", "teku"), "execution"))
    assert "--log-dir=/var/lib/ethereum/execution/logs" in execution


@pytest.mark.parametrize("el", ["geth", "nethermind", "besu"])
def test_archive_is_refused_where_it_is_not_wired(eth_values: EthStack, el: str) -> None:
    with pytest.raises(ConfigError, match=r"infrakit:chainSettings\.execution\.archive: .*reth only"):
        pair_plan(eth_values, el, "lighthouse", execution={"client": el, "archive": True})


def test_units_keep_retrying_without_network(eth_values: EthStack) -> None:
    """No network at first start: a client fails (checkpoint server, genesis state, peers) and
    must be started again until the network is there, not given up on after five tries."""
    plan = pair_plan(eth_values, "geth", "lighthouse")
    for role in ("execution", "beacon", "validator", "mevboost"):
        content = unit(plan, role)
        assert directive(content, "StartLimitIntervalSec") == ["0"], role
        assert directive(content, "Restart") == ["on-failure"] and directive(content, "RestartSec") == ["10"], role
        assert content.index("StartLimitIntervalSec") < content.index("[Service]"), "belongs in [Unit]"


# ---------------------------------------------------------------------- ports ----

# client -> flag -> protocols the client listens on at that port (read from the rendered flag)
PORT_FLAGS: dict[str, dict[str, tuple[str, ...]]] = {
    "geth": {"--port": ("tcp",), "--discovery.port": ("udp",)},
    "nethermind": {"--Network.P2PPort": ("tcp",), "--Network.DiscoveryPort": ("udp",)},
    "reth": {"--port": ("tcp",), "--discovery.port": ("udp",), "--discovery.v5.port": ("udp",)},
    "besu": {"--p2p-port": ("tcp", "udp")},
    "lighthouse": {"--port": ("tcp", "udp"), "--quic-port": ("udp",)},
    "teku": {"--p2p-port": ("tcp", "udp"), "--p2p-quic-port": ("udp",)},
    "prysm": {"--p2p-tcp-port": ("tcp",), "--p2p-udp-port": ("udp",), "--p2p-quic-port": ("udp",)},
    "lodestar": {"--port": ("tcp", "udp")},
    # nimbus-eth2 turns QUIC on by default since #8762 (2026-07, in 26.10+); #8747 kept the flag as --quic-port.
    "nimbus": {"--tcp-port": ("tcp",), "--udp-port": ("udp",), "--quic-port": ("udp",)},
}
# Listeners a flag implies: lodestar's QUIC listens on --port + 1 (its default, PR "add QUIC support").
IMPLIED = {"lodestar": lambda flags: {(flags["--port"] + 1, "udp")}}


def listening(argv: str, client: str) -> set[tuple[int, str]]:
    words = argv.split()
    flags: dict[str, int] = {}
    for i, word in enumerate(words):
        name, _, value = word.partition("=")
        if name in PORT_FLAGS[client]:
            flags[name] = int(value or words[i + 1])
    missing = set(PORT_FLAGS[client]) - set(flags)
    assert not missing, f"{client}: ports left to the client's defaults: {missing}"
    out = {(port, proto) for name, port in flags.items() for proto in PORT_FLAGS[client][name]}
    return out | (IMPLIED[client](flags) if client in IMPLIED else set())


@pytest.mark.parametrize(("el", "cl"), PAIRS, ids=[f"{e}-{c}" for e, c in PAIRS])
def test_the_firewall_opens_exactly_what_the_rendered_flags_listen_on(eth_values: EthStack, el: str, cl: str) -> None:
    plan = pair_plan(eth_values, el, cl)
    wanted = listening(exec_start(unit(plan, "execution")), el) | listening(exec_start(unit(plan, "beacon")), cl)
    public = {(p.port, p.protocol) for p in plan.ports if p.exposure == "public"}
    assert public == wanted, f"{el}/{cl}: firewall {sorted(public)} vs flags {sorted(wanted)}"


# --------------------------------------------------------------- doppelganger ----


@pytest.mark.parametrize(
    ("cl", "status"), [("lighthouse", "1"), ("teku", "1"), ("prysm", "1"), ("lodestar", "1"), ("nimbus", "129")]
)
def test_a_doppelganger_exit_is_never_restarted(eth_values: EthStack, cl: str, status: str) -> None:
    """The runbook says: stop, find the other signer. A restart 10 s later would sign beside it."""
    content = unit(pair_plan(eth_values, "geth", cl), "validator")
    assert directive(content, "RestartPreventExitStatus") == [status]
    for role in ("execution", "beacon"):
        assert not directive(unit(pair_plan(eth_values, "geth", cl), role), "RestartPreventExitStatus")


# ------------------------------------------------------------ checkpoint sync ----


def test_checkpoint_sync_off_is_completed_for_lighthouse_and_nimbus(eth_values: EthStack) -> None:
    off = {"consensus": {"client": "lighthouse", "checkpointSync": False}}
    beacon = exec_start(unit(pair_plan(eth_values, "geth", "lighthouse", **off), "beacon"))
    assert "--allow-insecure-genesis-sync" in beacon and "checkpoint" not in beacon
    nimbus = unit(
        pair_plan(eth_values, "geth", "nimbus", consensus={"client": "nimbus", "checkpointSync": False}), "beacon"
    )
    assert "trustedNodeSync" not in nimbus and "ExecStartPre" not in nimbus
    on = exec_start(unit(pair_plan(eth_values, "geth", "lighthouse"), "beacon"))
    assert "--allow-insecure-genesis-sync" not in on


@pytest.mark.parametrize("cl", ["teku", "prysm", "lodestar"])
def test_checkpoint_sync_off_is_refused_with_the_reason(eth_values: EthStack, cl: str) -> None:
    with pytest.raises(ConfigError) as info:
        pair_plan(eth_values, "geth", cl, consensus={"client": cl, "checkpointSync": False})
    message = str(info.value)
    assert f"infrakit:chainSettings.consensus.checkpointSync: false is refused for {cl}" in message
    assert "genesis state" in message and "checkpointSyncUrl" in message


# --------------------------------------------------------------- nimbus sync ----

FAKE_NIMBUS = """#!/bin/sh
# TEST stand-in for nimbus_beacon_node trustedNodeSync: creates db/ first, like the real one.
for arg in "$@"; do case "$arg" in --data-dir=*) dir="${arg#--data-dir=}";; esac; done
mkdir -p "$dir/db" && echo partial > "$dir/db/state"
[ -e "$dir/../fail" ] && exit 1
echo complete > "$dir/db/state"
"""


def run_pre(script: str, data: Path, fake: Path) -> subprocess.CompletedProcess[str]:
    local = script.replace(clients.CL_DATA, str(data)).replace(clients.NIMBUS_BN, str(fake))
    return subprocess.run(["/bin/sh", "-ec", local], capture_output=True, text=True, timeout=30, check=False)


def test_nimbus_trusted_sync_is_marked_done_only_when_it_finished(tmp_path: Path) -> None:
    """db/ appears long before trustedNodeSync ends; a killed run must be redone, not skipped forever."""
    argv = clients.nimbus_checkpoint(clients.Ctx(network="hoodi", checkpoint_url="https://cp.example.org"))
    assert argv and argv[:2] == ["/bin/sh", "-ec"]
    data, fake = tmp_path / "beacon", tmp_path / "nimbus_beacon_node"
    data.mkdir()
    fake.write_text(FAKE_NIMBUS)
    fake.chmod(0o755)
    (tmp_path / "fail").touch()
    assert run_pre(argv[2], data, fake).returncode != 0, "an interrupted sync fails the start"
    assert (data / "db").is_dir() and not (data / ".infrakit-trusted-sync-done").exists()
    (tmp_path / "fail").unlink()
    assert run_pre(argv[2], data, fake).returncode == 0
    assert (data / "db" / "state").read_text() == "complete\n", "the partial db was replaced"
    assert (data / ".infrakit-trusted-sync-done").exists() and not (data / ".infrakit-trusted-sync-started").exists()
    (data / "db" / "state").write_text("synced since\n")
    assert run_pre(argv[2], data, fake).returncode == 0
    assert (data / "db" / "state").read_text() == "synced since\n", "a finished sync is never redone"


def test_nimbus_keeps_a_database_from_before_the_markers(tmp_path: Path) -> None:
    argv = clients.nimbus_checkpoint(clients.Ctx(network="hoodi", checkpoint_url="https://cp.example.org"))
    assert argv
    data, fake = tmp_path / "beacon", tmp_path / "nimbus_beacon_node"
    (data / "db").mkdir(parents=True)
    (data / "db" / "state").write_text("old\n")
    fake.write_text("#!/bin/sh\nexit 99\n")
    fake.chmod(0o755)
    assert run_pre(argv[2], data, fake).returncode == 0
    assert (data / "db" / "state").read_text() == "old\n" and (data / ".infrakit-trusted-sync-done").exists()


def test_nimbus_start_timeout_fits_a_trusted_sync(eth_values: EthStack) -> None:
    beacon = unit(pair_plan(eth_values, "geth", "nimbus"), "beacon")
    assert directive(beacon, "TimeoutStartSec") == [str(clients.NIMBUS_START_TIMEOUT)]
    assert clients.NIMBUS_START_TIMEOUT >= 1800
    assert not directive(unit(pair_plan(eth_values, "geth", "lighthouse"), "beacon"), "TimeoutStartSec")


# ------------------------------------------------------------- data volume ----


def test_a_declared_volume_holds_every_data_dir(eth_values: EthStack) -> None:
    """A declared volume used to be mounted by Hetzner and left unused: the chain filled the root disk."""
    values = eth_values(host={"volume": {"sizeGb": 500, "format": "xfs"}})
    plan = build_plan(eth_stack(values))
    names = [p.step.name for p in plan.steps]
    assert names.index("eth_data_volume") < names.index("eth_prepare"), "mounted before any data dir exists"
    params = plan.step("eth_data_volume").step.params
    assert params == {
        "VOLUME_DEVICE": "/dev/disk/by-id/scsi-0HC_Volume_*",
        "MOUNT_POINT": "/var/lib/ethereum",
        "FSTYPE": "xfs",
    }
    for role in ("execution", "beacon", "validator"):
        assert directive(unit(plan, role), "RequiresMountsFor") == [f"/var/lib/ethereum/{role}"]
    without = build_plan(eth_stack(eth_values()))
    assert "eth_data_volume" not in {p.step.name for p in without.steps}
