"""The monitoring tier in the plan: private ports, checks written to the host, code-tracking hashes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.registry import REGISTRY
from infrakit.config import ConfigError, load_stack
from infrakit.plan import build_plan
from infrakit.plan.model import HostPlan, Step
from infrakit.plan.monitoring import CHECKS_FILE, CONFIG_FILE, json_rpc_check
from infrakit.plan.sources import source_path
from tests.conftest import StackFactory, load_values

MONITORING_STEPS = ["node_exporter", "monitoring", "monitoring_units"]


def plan_of(values: dict[str, Any]) -> HostPlan:
    return build_plan(load_values(values))


def files(step: Step) -> dict[str, Any]:
    return {f.name: f for f in step.files}


def test_monitoring_runs_last_and_stays_private(stack_values: StackFactory) -> None:
    """Monitoring watches the adapter's services, so it comes after them; its ports are never public."""
    plan = plan_of(stack_values())
    names = [p.step.name for p in plan.steps]
    assert names[-3:] == MONITORING_STEPS
    mine = [p for p in plan.ports if p.purpose in {"status server", "node exporter"}]
    assert {(p.port, p.exposure) for p in mine} == {(9108, "private"), (9100, "private")}
    assert plan.public_ports() == []
    assert {s.unit for s in plan.services} >= {"infrakit-status.service", "infrakit-probe.timer",
                                               "prometheus-node-exporter.service"}


def test_monitoring_off_adds_nothing(stack_values: StackFactory) -> None:
    plan = plan_of(stack_values(monitoring={"enabled": False}))
    assert not {p.step.name for p in plan.steps} & set(MONITORING_STEPS)
    assert not [p for p in plan.ports if p.port in {9100, 9108}]


def test_every_planned_check_is_written_to_the_host(stack_values: StackFactory) -> None:
    """status_server.py and uptime_probe.sh read /etc/infrakit/checks.json: it must hold
    exactly the plan's checks, including the stack's own."""
    extra = {"name": "peers", "kind": "http", "target": "http://127.0.0.1:8545", "query": ".result|hex",
             "warn": 5, "crit": 1, "bound": "min"}
    plan = plan_of(stack_values(monitoring={"checks": [extra]}))
    written = json.loads(files(plan.step("monitoring").step)["checks.json"].content)
    assert [c["name"] for c in written] == [c.name for c in plan.health_checks]
    assert {"sshd", "chrony", "fail2ban", "status_server", "node_exporter", "peers"} <= {c["name"] for c in written}
    peers = next(c for c in written if c["name"] == "peers")
    assert (peers["query"], peers["warn"], peers["crit"], peers["bound"]) == (".result|hex", 5, 1, "min")
    assert files(plan.step("monitoring").step)["checks.json"].dest == CHECKS_FILE


def test_settings_file(stack_values: StackFactory) -> None:
    plan = plan_of(stack_values(monitoring={"probeInterval": 15, "dataDirs": ["/var/lib/chain"],
                                            "alertFormat": "discord"}))
    settings = json.loads(files(plan.step("monitoring").step)["monitoring.json"].content)
    assert settings["interval"] == 15 and settings["listen"] == "127.0.0.1" and settings["port"] == 9108
    assert settings["data_dirs"] == ["/", "/var/lib/chain"] and settings["alert"]["format"] == "discord"
    assert {"ssh.service", "chrony.service", "infrakit-status.service"} <= set(settings["units"])
    assert "prometheus-node-exporter" in settings["packages"] and "fail2ban" in settings["packages"]
    assert files(plan.step("monitoring").step)["monitoring.json"].dest == CONFIG_FILE


def test_host_tools_ship_as_files_so_code_changes_move_the_hash(stack_values: StackFactory) -> None:
    step = plan_of(stack_values()).step("monitoring").step
    shipped = files(step)
    for name, source in (("status_server.py", "shared/monitoring/status_server.py"),
                         ("check_rpc.sh", "shared/monitoring/check_rpc.sh"),
                         ("uptime_probe.sh", "shared/monitoring/uptime_probe.sh"),
                         ("core.sh", "shared/lib/core.sh")):
        assert shipped[name].content == source_path(source).read_text(), name
    assert shipped["check_rpc.sh"].mode == "0755" and shipped["core.sh"].dest.endswith("/lib/core.sh")
    # only the library modules the host-side shell tools source
    assert not {"common.sh", "files.sh", "apt.sh", "systemd.sh", "params.sh"} & set(shipped)


def test_status_unit_restarts_when_code_or_config_changes(stack_values: StackFactory) -> None:
    """The monitoring step's digest is in the unit file, so install_systemd.sh restarts it."""
    a, b = plan_of(stack_values()), plan_of(stack_values(monitoring={"checkTimeout": 7}))
    unit_a = files(a.step("monitoring_units").step)["infrakit-status.service"].content
    unit_b = files(b.step("monitoring_units").step)["infrakit-status.service"].content
    assert unit_a != unit_b and "Content digest" in unit_a
    assert a.step("monitoring_units").step.params["RESTART_ON_CHANGE"] == "1"


def test_a_monitoring_change_moves_only_monitoring_hashes(stack_values: StackFactory) -> None:
    before = {p.step.name: p.hash for p in plan_of(stack_values()).steps}
    after = {p.step.name: p.hash for p in plan_of(stack_values(monitoring={"probeInterval": 60})).steps}
    assert {n for n in before if before[n] != after[n]} == {"monitoring", "monitoring_units"}
    exporter = {p.step.name: p.hash for p in plan_of(stack_values(monitoring={"nodeExporterPort": 9200})).steps}
    assert {n for n in before if before[n] != exporter[n]} == {"node_exporter", "monitoring", "monitoring_units"}


def test_units_are_hardened_and_unprivileged(stack_values: StackFactory) -> None:
    units = files(plan_of(stack_values()).step("monitoring_units").step)
    for name in ("infrakit-status.service", "infrakit-probe.service"):
        text = units[name].content
        for directive in ("User=infrakit-mon", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                          "ProtectHome=yes", "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service"):
            assert directive in text, f"{name} lacks {directive!r}"
    assert "EnvironmentFile=-/etc/infrakit/node.env" in units["infrakit-probe.service"].content
    assert "ALERT_WEBHOOK_URL=" not in "".join(u.content for u in units.values()), "the secret stays in node.env"
    assert "OnUnitActiveSec=30s" in units["infrakit-probe.timer"].content


def test_json_rpc_check_posts_a_json_rpc_request() -> None:
    check = json_rpc_check("n", "http://127.0.0.1:9", "chain_head", query=".result|hex", warn=5, crit=1,
                           bound="min", params='["x"]')
    assert (check.kind, check.method, check.headers) == ("http", "POST", {"Content-Type": "application/json"})
    assert json.loads(check.body) == {"jsonrpc": "2.0", "id": 1, "method": "chain_head", "params": ["x"]}
    assert (check.query, check.warn, check.crit, check.bound) == (".result|hex", 5, 1, "min")


def test_duplicate_check_names_are_refused(stack_values: StackFactory) -> None:
    with pytest.raises(ConfigError, match=r"infrakit:monitoring.checks: check name\(s\) sshd already used"):
        plan_of(stack_values(monitoring={"checks": [{"name": "sshd", "kind": "systemd", "target": "x.service"}]}))


def test_adapter_data_dirs_are_reported() -> None:
    """A chain's data directory filling up is the classic silent node death: it must be watched."""
    plan = build_plan(load_stack("eth-hoodi-validator", REGISTRY))
    settings = json.loads(next(f.content for p in plan.steps for f in p.step.files if f.dest == CONFIG_FILE))
    assert {"/", "/var/lib/ethereum/execution", "/var/lib/ethereum/beacon"} <= set(settings["data_dirs"])
