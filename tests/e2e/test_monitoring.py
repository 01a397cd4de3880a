"""The monitoring tier on a real lab host: status page, metrics, alerts on state changes.

One session host (`mon1`) converged with the lab stack plus a 5 s probe interval, three
JSON-RPC threshold checks against a fake node in the guest, and the alert webhook (a
secret) pointing at a receiver in the guest that records every POST.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from infrakit.plan.evm_checks import evm_head_check, evm_peers_check, evm_sync_check
from infrakit_lab.host import LabHost
from tests.e2e.conftest import Lab, etc_digest, lab_session, lab_stack
from tests.e2e.lab_fakes import start_fake, wait_for
from tests.lab_names import test_host

pytestmark = pytest.mark.lab

HOST_NAME = test_host("mon")
INTERVAL = 5
TIMEOUT = 3
TOKEN = "lab-secret-token-5f2c9a"
WEBHOOK = f"http://127.0.0.1:9999/hook/{TOKEN}"
NODE = "http://127.0.0.1:8545"
ALERTS = "/root/alerts.jsonl"


def _check(check: Any) -> dict[str, Any]:
    return check.model_dump(mode="json")


def make_stack(host: LabHost) -> Any:
    return lab_stack(host, secure=["alertWebhookUrl"], monitoring={
        "probeInterval": INTERVAL,
        "checkTimeout": TIMEOUT,
        "dataDirs": ["/var/lib"],
        "checks": [_check(evm_peers_check("peers", NODE, 5, 1)), _check(evm_head_check("head", NODE)),
                   _check(evm_sync_check("sync", NODE))],
    })


def start_fakes(lab: Lab) -> None:
    start_fake(lab, "lab-fake-node", "node", "8545", port=8545)
    start_fake(lab, "lab-webhook", "receiver", "9999", ALERTS, port=9999)


@pytest.fixture(scope="module")
def mon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_session(HOST_NAME, tmp_path_factory, make_stack, secrets={"alertWebhookUrl": WEBHOOK},
                     prepare=start_fakes) as lab:
        wait_for("two probes", lambda: probe_runs(lab) >= 2, 4 * INTERVAL)
        yield lab


def probe_runs(lab: Lab) -> int:
    out = lab.guest("journalctl", "--no-pager", "-u", "infrakit-probe.service", "-o", "cat", check=False).stdout
    return out.count("infrakit: probe checks=")


def status(lab: Lab) -> dict[str, Any]:
    return json.loads(lab.guest("curl", "-sf", "--max-time", "5", "http://127.0.0.1:9108/status").stdout)


def checks(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in doc["checks"]}


def alerts(lab: Lab) -> list[dict[str, Any]]:
    path = lab.host.rootfs / ALERTS.lstrip("/")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def fake_set(lab: Lab, **values: Any) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "fake_set", "params": values})
    lab.guest("curl", "-sf", "--max-time", "5", "-H", "Content-Type: application/json", "-d", body, NODE)


def test_status_reports_every_check_service_disk_version_and_apply(mon: Lab) -> None:
    doc = status(mon)
    by_name = checks(doc)
    assert doc["stack"] == "lab-e2e" and doc["status"] == "OK" and doc["healthy"] is True, doc["checks"]
    assert set(by_name) == {c.name for c in mon.plan.health_checks}, "every planned check is on the status page"
    for name in ("sshd", "fail2ban", "status_server", "node_exporter", "peers", "head", "sync"):
        assert by_name[name]["status"] == "OK", by_name[name]
    assert by_name["peers"]["value"] == 12 and by_name["sync"]["value"] == 0
    assert 0 <= by_name["head"]["value"] < 60
    # chrony cannot run in a container (no CAP_SYS_TIME): said so, never "active".
    assert by_name["chrony"]["status"] == "SKIPPED"
    assert "ConditionCapability=CAP_SYS_TIME" in by_name["chrony"]["summary"]
    services = {s["unit"]: s for s in doc["services"]}
    assert services["chrony.service"]["state"] == "condition-skipped" and not services["chrony.service"]["active"]
    for unit in ("ssh.service", "infrakit-status.service", "prometheus-node-exporter.service", "fail2ban.service"):
        assert services[unit]["active"], unit
    assert {d["path"] for d in doc["disks"]} == {"/", "/var/lib"}
    assert all(0 < d["used_bytes"] < d["size_bytes"] for d in doc["disks"])
    versions = doc["versions"]["packages"]
    assert versions["prometheus-node-exporter"] and versions["fail2ban"] and versions["python3"]
    applied = doc["last_apply"]
    assert applied["steps"] == {p.step.name: p.hash for p in mon.plan.steps}, "step hashes as run_step.sh wrote them"
    assert applied["step"] == "monitoring_units" and applied["timestamp"] > time.time() - 3600
    assert doc["uptime"]["host_seconds"] > 0 and doc["uptime"]["status_server_seconds"] >= 0


SAMPLE = re.compile(r'^[a-z_:][a-z0-9_:]*(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$')


def test_metrics_are_prometheus_text(mon: Lab) -> None:
    text = mon.guest("curl", "-sf", "--max-time", "5", "http://127.0.0.1:9108/metrics").stdout
    families: list[str] = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            families.append(line.split()[2])
        elif not line.startswith("# HELP "):
            assert SAMPLE.match(line), f"not a Prometheus sample: {line!r}"
            assert line.startswith(families[-1]), f"{line!r} is outside its family's group"
    assert len(families) == len(set(families)), "each family appears once"
    assert 'infrakit_check_state{check="chrony",kind="systemd",state="SKIPPED"} 1' in text
    assert 'infrakit_check_value{check="peers"} 12' in text
    assert 'infrakit_service_active{unit="ssh.service"} 1' in text
    assert re.search(r'^infrakit_disk_used_ratio\{path="/var/lib"\} 0\.\d+$', text, re.M)
    assert re.search(r'^infrakit_step_info\{step="monitoring",hash="[0-9a-f]{16}"\} 1$', text, re.M)
    assert re.search(r"^infrakit_last_apply_timestamp_seconds \d", text, re.M)
    assert re.search(r'^infrakit_package_info\{package="prometheus-node-exporter",version="1\.', text, re.M)


def test_status_and_exporter_listen_on_loopback_only(mon: Lab) -> None:
    listening = mon.guest("ss", "-Htln").stdout
    assert re.search(r"\s127\.0\.0\.1:9108\s", listening) and re.search(r"\s127\.0\.0\.1:9100\s", listening)
    assert not re.search(r"\s(\*|0\.0\.0\.0|\[::\]):(9108|9100)\s", listening), listening
    for port in (9108, 9100):
        with socket.socket() as sock:
            sock.settimeout(2)
            assert sock.connect_ex((mon.host.address, port)) != 0, f"port {port} reachable from outside"


def test_units_are_unprivileged_and_sandboxed(mon: Lab) -> None:
    scores = {}
    for unit in ("infrakit-status.service", "infrakit-probe.service", "prometheus-node-exporter.service"):
        out = mon.guest("systemd-analyze", "security", "--no-pager", unit, check=False).stdout
        scores[unit] = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)[1])  # type: ignore[index]
    print(f"systemd-analyze security: {scores}")
    assert scores["infrakit-status.service"] <= 2.0 and scores["infrakit-probe.service"] <= 2.0, scores
    assert scores["prometheus-node-exporter.service"] <= 3.0, scores
    pid = mon.guest("systemctl", "show", "-p", "MainPID", "--value", "infrakit-status.service").stdout.strip()
    assert mon.guest("ps", "-o", "user=", "-p", pid).stdout.strip() == "infrakit-mon"


def test_no_alert_while_everything_is_healthy(mon: Lab) -> None:
    """Two probes have run on a healthy host: an alert now would be noise."""
    assert probe_runs(mon) >= 2
    assert alerts(mon) == []


def test_stopped_service_and_failing_check_alert_once_and_recover_once(mon: Lab) -> None:
    """Stop a planned service and make a threshold check fail: the status page shows both
    within one probe interval, the webhook gets exactly one PROBLEM per check, one RECOVERY
    per check when they clear, and nothing while a state persists."""
    seen_token: list[str] = []
    stop = threading.Event()

    def watch_command_lines() -> None:
        while not stop.is_set():
            out = mon.guest("sh", "-c", "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '", check=False).stdout
            if TOKEN in out:
                seen_token.append(out)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch_command_lines, daemon=True)
    watcher.start()
    try:
        started = time.monotonic()
        mon.guest("systemctl", "stop", "prometheus-node-exporter.service")
        fake_set(mon, peers=0)

        def both_failing() -> bool:
            doc = status(mon)
            by_name = checks(doc)
            units = {s["unit"]: s["state"] for s in doc["services"]}
            return (by_name["node_exporter"]["status"] == "CRIT" and by_name["peers"]["status"] == "CRIT"
                    and units["prometheus-node-exporter.service"] == "inactive")

        wait_for("the status page to show the stopped exporter and 0 peers", both_failing, INTERVAL + TIMEOUT + 5)
        assert time.monotonic() - started <= INTERVAL + TIMEOUT + 2, "not within one probe interval"
        wait_for("two PROBLEM alerts", lambda: len(alerts(mon)) >= 2, 3 * INTERVAL + TIMEOUT)
        time.sleep(2 * INTERVAL)  # the state persists: no repeated alert
        assert len(alerts(mon)) == 2

        mon.guest("systemctl", "start", "prometheus-node-exporter.service")
        fake_set(mon, peers=12)
        wait_for("two RECOVERY alerts", lambda: len(alerts(mon)) >= 4, 3 * INTERVAL + TIMEOUT)
        time.sleep(2 * INTERVAL)
    finally:
        stop.set()
        watcher.join(timeout=10)
    received = alerts(mon)
    events = sorted((a["body"]["check"], a["body"]["event"], a["body"]["status"]) for a in received)
    assert events == [("node_exporter", "problem", "CRIT"), ("node_exporter", "recovery", "OK"),
                      ("peers", "problem", "CRIT"), ("peers", "recovery", "OK")], received
    for alert in received:
        body = alert["body"]
        assert alert["path"] == f"/hook/{TOKEN}" and alert["content_type"] == "application/json"
        assert body["source"] == "infrakit" and body["stack"] == "lab-e2e" and body["host"] == HOST_NAME
        assert body["previous"] in {"OK", "CRIT"} and body["summary"]
    assert checks(status(mon))["peers"]["status"] == "OK"
    assert not seen_token, "the webhook URL showed up in a process command line"


def test_webhook_secret_stays_out_of_logs_and_files(mon: Lab) -> None:
    journal = mon.guest("journalctl", "--no-pager", "-o", "cat", timeout=60).stdout
    assert "PROBLEM: peers OK -> CRIT" in journal, "the probe logs state changes"
    assert TOKEN not in journal
    found = mon.guest("grep", "-rlF", TOKEN, "/etc", "/var/lib/infrakit-probe", "/usr/local/lib/infrakit",
                      check=False).stdout.split()
    assert found == ["/etc/infrakit/node.env"], found
    env = mon.guest("stat", "-c", "%a %U", "/etc/infrakit/node.env").stdout.split()
    assert env == ["600", "root"]


def test_second_apply_changes_nothing(mon: Lab) -> None:
    before = etc_digest(mon)
    report = mon.apply("second")
    after = etc_digest(mon)
    assert report.ok, "\n".join(mon.logs["second"][-30:])
    assert [(s.name, s.changed) for s in report.steps] == [(s.name, False) for s in report.steps]
    assert sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)) == []
