"""The monitoring tier's steps: node exporter, the status server and the uptime probe.

Runs after the chain adapter's steps (so a first converge does not alert on services that
do not exist yet). The plan's health checks (base, adapter, stack `monitoring.checks`,
web tier, and this tier's own) are written to /etc/infrakit/checks.json, which both the
status server and the uptime probe read. The host-side code (status_server.py,
check_rpc.sh, uptime_probe.sh and the shell library modules they source) ships as rendered files of the `monitoring`
step, so a code change moves that step's hash, and its digest is written into the status
server's unit so the server restarts exactly when its code or config changed.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Sequence
from typing import Literal

from infrakit.config.errors import ConfigError
from infrakit.config.loader import Stack
from infrakit.config.monitoring import CheckConfig, MonitoringConfig
from infrakit.plan.model import HealthCheck, OpenPort, RenderedFile, Service, Step
from infrakit.plan.parts import PlanParts
from infrakit.plan.sources import LIB_DIR as SOURCES_LIB_DIR
from infrakit.plan.sources import source_bytes, sourced_files
from infrakit.plan.templates import render

MON_USER = "infrakit-mon"
LIB_DIR = "/usr/local/lib/infrakit"
TOOLS_DIR = f"{LIB_DIR}/monitoring"
CONFIG_FILE = "/etc/infrakit/monitoring.json"
CHECKS_FILE = "/etc/infrakit/checks.json"
# Where the status server sees run_step.sh's state: /var/lib/infrakit is root-only (0700),
# so its unit bind-mounts the state directory read-only here.
APPLY_STATE_VIEW = "/run/infrakit-status/apply-state"
APPLY_STATE_DIR = "/var/lib/infrakit/state"
STATUS_UNIT = "infrakit-status.service"
PROBE_SERVICE = "infrakit-probe.service"
PROBE_TIMER = "infrakit-probe.timer"
NODE_EXPORTER_UNIT = "prometheus-node-exporter.service"
PACKAGES = ("curl", "dbus", "jq", "openssl", "python3")
# Reported on the status page besides the plan's packages (installed by their own steps).
REPORTED_PACKAGES = ("fail2ban", "openssh-server", "systemd")
_PROGRAMS = (
    ("status_server.py", "shared/monitoring/status_server.py", f"{TOOLS_DIR}/status_server.py", "0755"),
    ("check_rpc.sh", "shared/monitoring/check_rpc.sh", f"{TOOLS_DIR}/check_rpc.sh", "0755"),
    ("uptime_probe.sh", "shared/monitoring/uptime_probe.sh", f"{TOOLS_DIR}/uptime_probe.sh", "0755"),
)
# The library modules the shell tools source (`../lib/X.sh` from TOOLS_DIR), exactly those.
_LIBRARY = sorted({lib for _, src, _, _ in _PROGRAMS if src.endswith(".sh")
                   for lib in sourced_files(src) if lib.startswith(f"{SOURCES_LIB_DIR}/")})
TOOLS = (
    *((posixpath.basename(lib), lib, f"{LIB_DIR}/lib/{posixpath.basename(lib)}", "0644") for lib in _LIBRARY),
    *_PROGRAMS,
)


def _tpl(name: str, **context: object) -> str:
    return render(f"shared/monitoring/templates/{name}.j2", **context)


# -- checks adapters can reuse ---------------------------------------------------------------

JSON_HEADERS = {"Content-Type": "application/json"}


def json_rpc_check(name: str, url: str, method: str, query: str, warn: float, crit: float,
                   bound: Literal["max", "min"], params: str = "[]") -> HealthCheck:
    """A JSON-RPC 2.0 POST to `url` whose answer `query` (jq, see HealthCheck) turns into a number
    compared with warn/crit. `params` is the JSON text of the params array."""
    body = f'{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}'
    return HealthCheck(name=name, kind="http", target=url, method="POST", body=body, headers=JSON_HEADERS,
                       query=query, warn=warn, crit=crit, bound=bound)


def _from_config(check: CheckConfig) -> HealthCheck:
    return HealthCheck(**check.model_dump(by_alias=False))


# -- steps -------------------------------------------------------------------------------------

def _file(name: str, dest: str, content: str, mode: str = "0644") -> RenderedFile:
    return RenderedFile(name=name, dest=dest, mode=mode, content=content)


def node_exporter(mon: MonitoringConfig) -> Step:
    listen = f"{mon.node_exporter_listen}:{mon.node_exporter_port}"
    return Step(
        name="node_exporter",
        script="shared/monitoring/install_node_exporter.sh",
        description=f"Prometheus node exporter (Debian package) on {listen} only, sandboxed",
        params={"LISTEN": listen},
        files=(
            _file("prometheus-node-exporter", "/etc/default/prometheus-node-exporter",
                  _tpl("prometheus-node-exporter.default", listen=listen)),
            _file("50-infrakit-hardening.conf",
                  f"/etc/systemd/system/{NODE_EXPORTER_UNIT}.d/50-infrakit-hardening.conf",
                  _tpl("node-exporter-hardening.conf")),
        ),
    )


def monitoring_config(stack: Stack, checks: Sequence[HealthCheck], units: Sequence[str],
                      packages: Sequence[str], data_dirs: Sequence[str] = ()) -> tuple[str, str]:
    """The two JSON files the host-side tools read: settings and the checks."""
    config = stack.config
    mon = config.monitoring
    settings = {
        "stack": stack.name,
        "chain": config.chain,
        "role": config.role,
        "listen": mon.status_listen,
        "port": mon.status_port,
        "interval": mon.probe_interval,
        "timeout": mon.check_timeout,
        "checks_file": CHECKS_FILE,
        "check_rpc": f"{TOOLS_DIR}/check_rpc.sh",
        "state_dir": APPLY_STATE_VIEW,
        "units": sorted(set(units)),
        "data_dirs": list(dict.fromkeys(["/", *data_dirs, *mon.data_dirs])),
        "packages": sorted(set(packages)),
        "alert": {"format": mon.alert_format, "telegram_chat_id": mon.telegram_chat_id},
    }
    dumped = [c.model_dump(mode="json") for c in checks]
    return (json.dumps(settings, indent=2, sort_keys=True) + "\n",
            json.dumps(dumped, indent=2, sort_keys=True) + "\n")


def monitoring_step(stack: Stack, checks: Sequence[HealthCheck], units: Sequence[str],
                    packages: Sequence[str], data_dirs: Sequence[str] = ()) -> Step:
    settings, checks_json = monitoring_config(stack, checks, units, packages, data_dirs)
    tools = tuple(_file(name, dest, source_bytes(src).decode("utf-8"), mode)
                  for name, src, dest, mode in TOOLS)
    return Step(
        name="monitoring",
        script="shared/monitoring/install_monitoring.sh",
        description=f"status server, check_rpc.sh and uptime probe for {len(checks)} checks (user {MON_USER})",
        params={"MON_USER": MON_USER, "PACKAGES": " ".join(PACKAGES)},
        files=(*tools,
               _file("monitoring.json", CONFIG_FILE, settings),
               _file("checks.json", CHECKS_FILE, checks_json)),
    )


def units_step(stack: Stack, monitoring: Step) -> Step:
    mon = stack.config.monitoring
    digest = hashlib.sha256(json.dumps([f.model_dump() for f in monitoring.files], sort_keys=True).encode())
    context = {
        "stack": stack.name,
        "user": MON_USER,
        "tools": TOOLS_DIR,
        "config": CONFIG_FILE,
        "interval": mon.probe_interval,
        "timeout": mon.check_timeout,
        "apply_state": APPLY_STATE_DIR,
        "apply_state_view": APPLY_STATE_VIEW,
        "digest": digest.hexdigest()[:16],
    }
    return Step(
        name="monitoring_units",
        script="shared/services/install_systemd.sh",
        description=f"{STATUS_UNIT} on {mon.status_listen}:{mon.status_port} and {PROBE_TIMER} every "
                    f"{mon.probe_interval} s, both unprivileged and sandboxed",
        params={"UNITS": f"{STATUS_UNIT} {PROBE_TIMER}", "ENABLE": "1", "START": "1", "RESTART_ON_CHANGE": "1"},
        files=tuple(
            _file(unit, f"/etc/systemd/system/{unit}", _tpl(unit, **context))
            for unit in (STATUS_UNIT, PROBE_SERVICE, PROBE_TIMER)
        ),
        requires=("monitoring",),
    )


def monitoring_parts(stack: Stack, checks: Sequence[HealthCheck], services: Sequence[Service],
                     packages: Sequence[str], data_dirs: Sequence[str] = ()) -> PlanParts:
    """Steps, private ports, services and own checks of the monitoring tier (empty when off).

    `checks` are every other check of the plan; `services` the adapter's and the web tier's;
    `packages` what the host installs (their versions are reported); `data_dirs` the
    adapter's data directories (their disk use is reported, with monitoring.dataDirs).
    """
    mon = stack.config.monitoring
    if not mon.enabled:
        return PlanParts()
    own_checks = [HealthCheck(name="status_server", kind="systemd", target=STATUS_UNIT)]
    own_services = [Service(name="status-server", unit=STATUS_UNIT), Service(name="uptime-probe", unit=PROBE_TIMER)]
    ports = [OpenPort(port=mon.status_port, protocol="tcp", exposure="private", purpose="status server")]
    steps: list[Step] = []
    if mon.node_exporter:
        steps.append(node_exporter(mon))
        own_services.append(Service(name="node-exporter", unit=NODE_EXPORTER_UNIT))
        own_checks.append(HealthCheck(name="node_exporter", kind="http",
                                      target=f"http://{_url_host(mon.node_exporter_listen)}:{mon.node_exporter_port}"
                                             "/metrics",
                                      expect="node_exporter_build_info"))
        ports.append(OpenPort(port=mon.node_exporter_port, protocol="tcp", exposure="private",
                              purpose="node exporter"))
    all_checks = [*checks, *own_checks, *(_from_config(c) for c in mon.checks)]
    names = [c.name for c in all_checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(stack.name, [("infrakit:monitoring.checks",
                                        f"check name(s) {', '.join(duplicates)} already used by the plan's checks")])
    units = [*(s.unit for s in [*services, *own_services]), *(c.target for c in all_checks if c.kind == "systemd")]
    all_packages = [*packages, *PACKAGES, *REPORTED_PACKAGES,
                    *(["prometheus-node-exporter"] if mon.node_exporter else [])]
    mon_step = monitoring_step(stack, all_checks, units, all_packages, data_dirs)
    steps += [mon_step, units_step(stack, mon_step)]
    return PlanParts(steps=steps, ports=ports, services=own_services,
                        health_checks=[*own_checks, *(_from_config(c) for c in mon.checks)])


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address
