#!/usr/bin/env python3
"""status_server.py: the node's status page (/status JSON) and Prometheus metrics (/metrics).

Usage:
  status_server.py serve [--config FILE]     run the HTTP server (the systemd service)
  status_server.py check [--config FILE]     run every health check once, print JSON results
  status_server.py validate [--config FILE]  parse the config and the checks file, exit 0/2

Python standard library only, so the host needs no pip. Runs as an unprivileged user.
The config (default /etc/infrakit/monitoring.json, written by the `monitoring` step) names
the listen address, the probe interval, the checks file (/etc/infrakit/checks.json: the
plan's health checks), the units, data directories and packages to report, and where the
step runner's state (step hashes, last apply) is visible to this process.

Every probe interval a background thread runs all checks (each bounded by the check
timeout) and collects unit states, disk use, package versions, the last apply and uptime;
HTTP requests only ever read that snapshot, so a flood of requests never runs a check.
Check results: OK, WARN, CRIT, UNKNOWN (Nagios codes 0-3) or SKIPPED. A systemd unit the plan
wants running that is not running is CRIT, whatever systemd's condition fields say: SKIPPED
is only an enabled, unmasked unit whose start conditions systemd evaluated during this boot
and found unmet (e.g. chrony without CAP_SYS_TIME in a container). systemd also reports
ConditionResult=no for every unit not started since boot (disabled, masked, never started),
which is why ConditionResult alone is never trusted. http checks run through check_rpc.sh
(same directory).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = "/etc/infrakit/monitoring.json"
STATUSES = ("OK", "WARN", "CRIT", "UNKNOWN", "SKIPPED")
CODES = {"OK": 0, "WARN": 1, "CRIT": 2, "UNKNOWN": 3}
UNIT_STATES = ("active", "activating", "deactivating", "reloading", "inactive", "failed", "condition-skipped",
               "masked", "disabled", "not-found")
UNIT_PROPERTIES = ("Id,LoadState,ActiveState,SubState,ConditionResult,ConditionTimestampMonotonic,UnitFileState,"
                   "ActiveEnterTimestampMonotonic")
# Unit file states under which a unit starts at boot (or with what pulls it in).
STARTS_AT_BOOT = {"enabled", "enabled-runtime", "static", "indirect", "generated", "alias", "linked", "linked-runtime",
                  "transient", ""}
SAFE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}

Runner = Callable[..., subprocess.CompletedProcess[str]]


class ConfigError(Exception):
    pass


# ------------------------------------------------------------------ config ----

@dataclass(frozen=True)
class Config:
    stack: str = ""
    chain: str = ""
    role: str = ""
    listen: str = "127.0.0.1"
    port: int = 9108
    interval: float = 30.0
    timeout: float = 10.0
    checks_file: str = "/etc/infrakit/checks.json"
    check_rpc: str = ""
    state_dir: str = "/var/lib/infrakit/state"
    units: tuple[str, ...] = ()
    data_dirs: tuple[str, ...] = ("/",)
    packages: tuple[str, ...] = ()
    dpkg_status: str = "/var/lib/dpkg/status"
    proc_uptime: str = "/proc/uptime"
    checks: tuple[dict[str, Any], ...] = ()

    @classmethod
    def load(cls, path: str) -> Config:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a JSON object")
        known = {f for f in cls.__dataclass_fields__ if f != "checks"}
        unknown = sorted(set(raw) - known - {"alert"})
        if unknown:
            raise ConfigError(f"{path}: unknown keys {unknown}")
        values: dict[str, Any] = {k: v for k, v in raw.items() if k in known}
        for key in ("units", "data_dirs", "packages"):
            if key in values:
                values[key] = tuple(values[key])
        if not values.get("check_rpc"):
            values["check_rpc"] = str(Path(__file__).resolve().with_name("check_rpc.sh"))
        config = cls(**values)
        return config.with_checks(load_checks(config.checks_file))

    def with_checks(self, checks: Sequence[dict[str, Any]]) -> Config:
        return Config(**{**{k: getattr(self, k) for k in self.__dataclass_fields__}, "checks": tuple(checks)})


def load_checks(path: str) -> list[dict[str, Any]]:
    try:
        checks = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read checks file {path}: {exc}") from None
    if not isinstance(checks, list):
        raise ConfigError(f"{path}: expected a JSON list of checks")
    names: set[str] = set()
    for i, check in enumerate(checks):
        if not isinstance(check, dict) or not {"name", "kind", "target"} <= set(check):
            raise ConfigError(f"{path}: check #{i} needs name, kind and target")
        if check["kind"] not in {"systemd", "tcp", "http", "command"}:
            raise ConfigError(f"{path}: check {check['name']!r} has unknown kind {check['kind']!r}")
        if check["name"] in names:
            raise ConfigError(f"{path}: check name {check['name']!r} is used twice")
        names.add(check["name"])
    return checks


# ------------------------------------------------------------------ checks ----

@dataclass
class CheckResult:
    name: str
    kind: str
    target: str
    status: str
    summary: str
    value: float | None = None
    checked_at: float = 0.0
    duration_seconds: float = 0.0
    since: float = 0.0  # when the check entered this status (kept across probes)

    @property
    def code(self) -> int | None:
        return CODES.get(self.status)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["code"] = self.code
        out["checked_at_iso"] = iso(self.checked_at)
        return out


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if epoch else ""


def parse_unit_blocks(text: str) -> dict[str, dict[str, str]]:
    """`systemctl show -p ... A B` output: one block of KEY=value lines per unit, by Id."""
    units: dict[str, dict[str, str]] = {}
    for block in re.split(r"\n\s*\n", text.strip()):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            units[props["Id"]] = props
    return units


def describe_conditions(conditions: Sequence[Sequence[Any]]) -> str:
    """D-Bus Conditions (type, trigger, negate, parameter, state) -> 'ConditionX=param, ...'."""
    parsed = [c for c in conditions if isinstance(c, Sequence) and len(c) == 5]
    failed = [c for c in parsed if isinstance(c[4], int) and c[4] < 0]
    return ", ".join(f"{c[0]}={'!' if c[2] else ''}{c[3]}" for c in (failed or parsed))


def unit_state(props: Mapping[str, str] | None) -> str:
    """active, activating, ..., failed; `masked`/`disabled` for an inactive unit that will not
    start; `condition-skipped` only when systemd tried to start the unit this boot and its
    start condition said no (ConditionTimestampMonotonic set): a unit not started since boot
    also reads ConditionResult=no."""
    if not props or props.get("LoadState") in {None, "not-found"}:
        return "not-found"
    active = props.get("ActiveState", "inactive")
    evaluated = (props.get("ConditionTimestampMonotonic", "0") or "0") not in {"0", "n/a"}
    if active not in {"inactive", "failed"}:
        state = active
    elif props.get("LoadState") == "masked" or props.get("UnitFileState", "").startswith("masked"):
        state = "masked"
    elif active == "failed":
        state = "failed"
    elif props.get("UnitFileState", "") not in STARTS_AT_BOOT:
        state = "disabled"
    elif props.get("ConditionResult") == "no" and evaluated:
        state = "condition-skipped"
    else:
        state = "inactive"
    return state


class Checker:
    """Runs checks. `runner` is subprocess.run (replaced in tests)."""

    def __init__(self, config: Config, runner: Runner = subprocess.run,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.runner = runner
        self.clock = clock

    # systemd -------------------------------------------------------------------
    def unit_properties(self, units: Iterable[str]) -> dict[str, dict[str, str]]:
        names = sorted(set(units))
        if not names:
            return {}
        try:
            result = self.runner(["systemctl", "show", f"--property={UNIT_PROPERTIES}", "--", *names],
                                 capture_output=True, text=True, timeout=self.config.timeout, env=SAFE_ENV,
                                 check=False)
        except (OSError, subprocess.TimeoutExpired):
            return {}
        return parse_unit_blocks(result.stdout) if result.returncode == 0 else {}

    def skip_reason(self, unit: str) -> str:
        """The unit's start conditions, e.g. 'ConditionCapability=CAP_SYS_TIME' (the failed ones
        when systemd says which). Unprivileged `systemctl status` hides them; D-Bus does not."""
        path = "/org/freedesktop/systemd1/unit/" + "".join(c if c.isalnum() else f"_{ord(c):02x}" for c in unit)
        try:
            result = self.runner(["busctl", "--json=short", "get-property", "org.freedesktop.systemd1", path,
                                  "org.freedesktop.systemd1.Unit", "Conditions"], capture_output=True, text=True,
                                 timeout=self.config.timeout, env=SAFE_ENV, check=False)
            conditions = json.loads(result.stdout)["data"] if result.returncode == 0 else []
        except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
            return ""
        return describe_conditions(conditions)

    def systemd(self, check: Mapping[str, Any], props: Mapping[str, str] | None) -> tuple[str, str]:
        unit = check["target"]
        state = unit_state(props)
        if state == "active":
            return "OK", f"{unit} is active ({props.get('SubState', '') if props else ''})"
        if state == "condition-skipped":
            reason = self.skip_reason(unit)
            return "SKIPPED", f"{unit} not started: start condition not met{f' ({reason})' if reason else ''}"
        if state in {"activating", "reloading"}:
            return "WARN", f"{unit} is {state}"
        if state == "not-found":
            return "CRIT", f"{unit} does not exist"
        if state in {"masked", "disabled"}:
            return "CRIT", f"{unit} is not running and is {state} (the plan wants it running)"
        return "CRIT", f"{unit} is {state} (the plan wants it running)"

    # tcp -----------------------------------------------------------------------
    def tcp(self, check: Mapping[str, Any]) -> tuple[str, str]:
        host, _, port = str(check["target"]).rpartition(":")
        host = host.strip("[]")
        try:
            with socket.create_connection((host, int(port)), timeout=self.config.timeout):
                return "OK", f"{check['target']} accepts connections"
        except (OSError, ValueError) as exc:
            return "CRIT", f"{check['target']}: {exc.__class__.__name__}: {exc}"

    # http (check_rpc.sh) -------------------------------------------------------
    def http(self, check: Mapping[str, Any]) -> tuple[str, str, float | None]:
        env = dict(SAFE_ENV)
        env.update({
            "CHECK_NAME": str(check["name"]),
            "CHECK_URL": str(check["target"]),
            "CHECK_METHOD": str(check.get("method") or "GET"),
            "CHECK_BODY": str(check.get("body") or ""),
            "CHECK_HEADERS": "\n".join(f"{k}: {v}" for k, v in (check.get("headers") or {}).items()),
            "CHECK_EXPECT": str(check.get("expect") or ""),
            "CHECK_QUERY": str(check.get("query") or ""),
            "CHECK_WARN": "" if check.get("warn") is None else repr(float(check["warn"])),
            "CHECK_CRIT": "" if check.get("crit") is None else repr(float(check["crit"])),
            "CHECK_BOUND": str(check.get("bound") or "max"),
            "CHECK_TIMEOUT": str(int(self.config.timeout)),
        })
        try:
            result = self.runner(["bash", self.config.check_rpc], capture_output=True, text=True, env=env,
                                 timeout=self.config.timeout + 5, check=False)
        except subprocess.TimeoutExpired:
            return "CRIT", f"timed out after {self.config.timeout + 5:g} s", None
        except OSError as exc:
            return "UNKNOWN", f"cannot run check_rpc.sh: {exc}", None
        return parse_plugin_output(result.returncode, result.stdout)

    # command -------------------------------------------------------------------
    def command(self, check: Mapping[str, Any]) -> tuple[str, str]:
        try:
            result = self.runner(["/bin/sh", "-c", str(check["target"])], capture_output=True, text=True,
                                 env=SAFE_ENV, timeout=self.config.timeout, check=False)
        except subprocess.TimeoutExpired:
            return "CRIT", f"timed out after {self.config.timeout:g} s"
        except OSError as exc:
            return "UNKNOWN", f"cannot run: {exc}"
        status = {0: "OK", 1: "WARN", 2: "CRIT"}.get(result.returncode, "UNKNOWN")
        first = (result.stdout.strip().splitlines() or [f"exit {result.returncode}"])[0]
        return status, first[:300]

    def run_one(self, check: Mapping[str, Any], props: Mapping[str, dict[str, str]]) -> CheckResult:
        start = time.monotonic()
        value: float | None = None
        kind = check["kind"]
        try:
            if kind == "systemd":
                status, summary = self.systemd(check, props.get(check["target"]))
            elif kind == "tcp":
                status, summary = self.tcp(check)
            elif kind == "http":
                status, summary, value = self.http(check)
            elif kind == "command":
                status, summary = self.command(check)
            else:
                status, summary = "UNKNOWN", f"unknown check kind {kind!r}"
        except Exception as exc:  # a broken check must not stop the others
            status, summary = "UNKNOWN", f"check failed: {exc.__class__.__name__}: {exc}"
        return CheckResult(name=check["name"], kind=kind, target=str(check["target"]), status=status,
                           summary=summary, value=value, checked_at=self.clock(),
                           duration_seconds=round(time.monotonic() - start, 3))

    def run_all(self) -> list[CheckResult]:
        checks = self.config.checks
        units = [c["target"] for c in checks if c["kind"] == "systemd"]
        props = self.unit_properties(units)
        if not checks:
            return []
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, len(checks))) as pool:
            return list(pool.map(lambda c: self.run_one(c, props), checks))


PERF_RE = re.compile(r"\|\s*[^=\s]+=(-?[0-9.eE+-]+)")


def parse_plugin_output(code: int, stdout: str) -> tuple[str, str, float | None]:
    """Nagios plugin output: exit code = status; first line = summary (with perfdata after '|')."""
    status = {0: "OK", 1: "WARN", 2: "CRIT"}.get(code, "UNKNOWN")
    lines = [line for line in stdout.splitlines() if line.strip() and not line.startswith("infrakit: ")]
    first = lines[0] if lines else f"check exited {code} without output"
    value = None
    match = PERF_RE.search(first)
    if match:
        try:
            value = float(match.group(1))
        except ValueError:
            value = None
    return status, first.split("|", 1)[0].strip()[:300], value


def merge_since(results: list[CheckResult], previous: Mapping[str, CheckResult]) -> list[CheckResult]:
    """Keep `since` from the previous snapshot while a check keeps its status."""
    for result in results:
        before = previous.get(result.name)
        result.since = before.since if before and before.status == result.status else result.checked_at
    return results


# ------------------------------------------------------------- host facts ----

def disk_usage(paths: Iterable[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in paths:
        try:
            st = os.statvfs(path)
        except OSError as exc:
            out.append({"path": path, "error": str(exc)})
            continue
        size = st.f_blocks * st.f_frsize
        avail = st.f_bavail * st.f_frsize
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        ratio = used / (used + avail) if used + avail else 0.0
        out.append({"path": path, "size_bytes": size, "used_bytes": used, "avail_bytes": avail,
                    "used_ratio": round(ratio, 4)})
    return out


def package_versions(status_file: str, packages: Iterable[str]) -> dict[str, str | None]:
    wanted = set(packages)
    found: dict[str, str | None] = dict.fromkeys(sorted(wanted))
    try:
        text = Path(status_file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return found
    for stanza in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line[0].isspace())
        name = fields.get("Package")
        if name in wanted and fields.get("Status", "").endswith(" installed"):
            found[name] = fields.get("Version")
    return found


def last_apply(state_dir: str) -> dict[str, Any]:
    base = Path(state_dir)
    steps: dict[str, str] = {}
    try:
        for path in sorted(base.glob("*.hash")):
            steps[path.stem] = path.read_text(encoding="utf-8").strip()
    except OSError:
        pass
    info: dict[str, Any] = {"time": None, "timestamp": None, "step": None, "hash": None, "steps": steps}
    try:
        line = (base / "last-apply").read_text(encoding="utf-8").strip()
    except OSError:
        return info
    match = re.match(r"^(\S+) step=(\S+) hash=(\S+)$", line)
    if match:
        info.update(time=match.group(1), step=match.group(2), hash=match.group(3))
        try:
            info["timestamp"] = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            info["timestamp"] = None
    return info


def host_uptime(proc_uptime: str) -> float | None:
    try:
        return float(Path(proc_uptime).read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return ""


# ---------------------------------------------------------------- snapshot ----

def overall(results: Iterable[CheckResult]) -> str:
    worst = max((r.code for r in results if r.code is not None), default=0)
    return {v: k for k, v in CODES.items()}[worst]


def build_status(config: Config, checker: Checker, results: list[CheckResult], started: float) -> dict[str, Any]:
    now = checker.clock()
    props = checker.unit_properties(config.units)
    services = []
    uptime = host_uptime(config.proc_uptime)
    for unit in sorted(set(config.units)):
        p = props.get(unit)
        entered = int(p.get("ActiveEnterTimestampMonotonic", "0") or 0) if p else 0
        state = unit_state(p)
        services.append({
            "unit": unit,
            "state": state,
            "active": state == "active",
            "sub_state": p.get("SubState", "") if p else "",
            "active_seconds": round(uptime - entered / 1e6, 1) if state == "active" and entered and uptime else None,
        })
    status = overall(results)
    return {
        "stack": config.stack,
        "chain": config.chain,
        "role": config.role,
        "host": socket.gethostname(),
        "generated_at": iso(now),
        "generated_at_timestamp": now,
        "probe_interval_seconds": config.interval,
        "status": status,
        "healthy": status == "OK",
        "checks": [r.as_dict() for r in results],
        "services": services,
        "disks": disk_usage(config.data_dirs),
        "versions": {
            "os": os_release(),
            "kernel": os.uname().release,
            "python": sys.version.split()[0],
            "packages": package_versions(config.dpkg_status, config.packages),
        },
        "last_apply": last_apply(config.state_dir),
        "uptime": {"host_seconds": uptime, "status_server_seconds": round(now - started, 1)},
    }


# ----------------------------------------------------------------- metrics ----

def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: object) -> str:
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}" if labels else ""


def _num(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


class Metrics:
    """Gauges grouped by family (the text format wants each family's samples together)."""

    def __init__(self) -> None:
        self.families: dict[str, tuple[str, list[str]]] = {}

    def add(self, name: str, help_text: str, value: float, **labels: object) -> None:
        _, samples = self.families.setdefault(name, (help_text, []))
        samples.append(f"{name}{_labels(**labels)} {_num(value)}")

    def text(self) -> str:
        lines: list[str] = []
        for name, (help_text, samples) in self.families.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *samples]
        return "\n".join(lines) + "\n"


def _check_metrics(m: Metrics, doc: Mapping[str, Any]) -> None:
    for check in doc["checks"]:
        for state in STATUSES:
            m.add("infrakit_check_state", "Health check result, one series per state (1 = current)",
                  int(check["status"] == state), check=check["name"], kind=check["kind"], state=state)
    for check in doc["checks"]:
        m.add("infrakit_check_ok", "1 if the check is OK (or skipped by a start condition), else 0",
              int(check["status"] in {"OK", "SKIPPED"}), check=check["name"])
    for check in doc["checks"]:
        if check["value"] is not None:
            m.add("infrakit_check_value", "The number a threshold check compared", check["value"], check=check["name"])
    for check in doc["checks"]:
        m.add("infrakit_check_last_run_timestamp_seconds", "When the check last ran (unix time)",
              check["checked_at"], check=check["name"])
        m.add("infrakit_check_duration_seconds", "How long the check took", check["duration_seconds"],
              check=check["name"])


def _host_metrics(m: Metrics, doc: Mapping[str, Any]) -> None:
    for svc in doc["services"]:
        m.add("infrakit_service_active", "1 if the systemd unit is active", int(svc["active"]), unit=svc["unit"])
    for svc in doc["services"]:
        for state in UNIT_STATES:
            m.add("infrakit_service_state", "systemd unit state, one series per state (1 = current)",
                  int(svc["state"] == state), unit=svc["unit"], state=state)
    for disk in doc["disks"]:
        if "error" in disk:
            continue
        m.add("infrakit_disk_size_bytes", "Size of the file system holding a data directory", disk["size_bytes"],
              path=disk["path"])
        m.add("infrakit_disk_used_bytes", "Used bytes of that file system", disk["used_bytes"], path=disk["path"])
        m.add("infrakit_disk_avail_bytes", "Bytes available to unprivileged users", disk["avail_bytes"],
              path=disk["path"])
        m.add("infrakit_disk_used_ratio", "Used / (used + available), as df shows it", disk["used_ratio"],
              path=disk["path"])
    for package, version in sorted(doc["versions"]["packages"].items()):
        m.add("infrakit_package_info", "Installed package version (1 = installed, 0 = missing)",
              int(version is not None), package=package, version=version or "")
    m.add("infrakit_host_info", "Host facts", 1, host=doc["host"], os=doc["versions"]["os"],
          kernel=doc["versions"]["kernel"], chain=doc["chain"], role=doc["role"])
    apply = doc["last_apply"]
    if apply["timestamp"] is not None:
        m.add("infrakit_last_apply_timestamp_seconds", "When the last plan step finished (unix time)",
              apply["timestamp"])
    for step, digest in sorted(apply["steps"].items()):
        m.add("infrakit_step_info", "Hash of the last successful run of each plan step", 1, step=step,
              hash=digest[:16])
    if doc["uptime"]["host_seconds"] is not None:
        m.add("infrakit_host_uptime_seconds", "Host uptime", doc["uptime"]["host_seconds"])
    m.add("infrakit_status_server_uptime_seconds", "Status server uptime", doc["uptime"]["status_server_seconds"])


def render_metrics(doc: Mapping[str, Any]) -> str:
    m = Metrics()
    m.add("infrakit_status", "Overall health: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN", CODES[doc["status"]],
          stack=doc["stack"])
    m.add("infrakit_probe_timestamp_seconds", "When the checks last ran (unix time)", doc["generated_at_timestamp"])
    m.add("infrakit_probe_interval_seconds", "Seconds between probes", doc["probe_interval_seconds"])
    _check_metrics(m, doc)
    _host_metrics(m, doc)
    return m.text()


# ------------------------------------------------------------------ server ----

@dataclass
class State:
    """The latest snapshot; the probe thread replaces it, HTTP handlers read it."""

    doc: dict[str, Any] = field(default_factory=dict)
    metrics: str = ""
    results: dict[str, CheckResult] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def probe_once(config: Config, checker: Checker, state: State, started: float) -> None:
    results = merge_since(checker.run_all(), state.results)
    doc = build_status(config, checker, results, started)
    text = render_metrics(doc)
    with state.lock:
        state.doc, state.metrics, state.results = doc, text, {r.name: r for r in results}


def probe_loop(config: Config, checker: Checker, state: State, started: float, stop: threading.Event) -> None:
    while not stop.is_set():
        begun = time.monotonic()
        try:
            probe_once(config, checker, state, started)
        except Exception as exc:  # keep serving the last snapshot
            print(f"status_server: probe failed: {exc.__class__.__name__}: {exc}", file=sys.stderr, flush=True)
        stop.wait(max(1.0, config.interval - (time.monotonic() - begun)))


def make_handler(state: State, config: Config) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "infrakit-status"
        sys_version = ""
        timeout = 10  # a slow client cannot hold a thread for long

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            with state.lock:
                doc, metrics = state.doc, state.metrics
            if not doc:
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, b'{"status": "starting"}\n', "application/json")
            elif path in {"/status", "/status/"}:
                self._send(HTTPStatus.OK, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode(),
                           "application/json")
            elif path == "/metrics":
                self._send(HTTPStatus.OK, metrics.encode(), "text/plain; version=0.0.4; charset=utf-8")
            elif path == "/healthz":
                fresh = time.time() - doc["generated_at_timestamp"] < 3 * config.interval + config.timeout
                self._send(HTTPStatus.OK if fresh else HTTPStatus.SERVICE_UNAVAILABLE,
                           b"ok\n" if fresh else b"stale\n", "text/plain")
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found: try /status or /metrics\n", "text/plain")

        def do_HEAD(self) -> None:
            self.do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            return  # no access log in the journal; nginx/caddy log the fronted requests

    return Handler


def serve(config: Config) -> int:
    started = time.time()
    state = State()
    checker = Checker(config)
    stop = threading.Event()
    family = socket.AF_INET6 if ":" in config.listen else socket.AF_INET

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True
        request_queue_size = 16

    httpd = Server((config.listen, config.port), make_handler(state, config))
    thread = threading.Thread(target=probe_loop, args=(config, checker, state, started, stop), daemon=True)
    thread.start()
    print(f"status_server: {len(config.checks)} checks every {config.interval:g} s; "
          f"listening on {config.listen}:{config.port}", file=sys.stderr, flush=True)
    try:
        httpd.serve_forever(poll_interval=1.0)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        httpd.server_close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="status_server.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("serve", "check", "validate"), nargs="?", default="serve")
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    try:
        config = Config.load(args.config)
    except ConfigError as exc:
        print(f"status_server: {exc}", file=sys.stderr)
        return 2
    if args.command == "validate":
        print(f"status_server: {args.config} ok ({len(config.checks)} checks)")
        return 0
    if args.command == "check":
        results = Checker(config).run_all()
        print(json.dumps([r.as_dict() for r in results], sort_keys=True))
        return 0
    return serve(config)


if __name__ == "__main__":
    sys.exit(main())
