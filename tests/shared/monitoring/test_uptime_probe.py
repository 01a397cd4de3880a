"""uptime_probe.sh: one alert per state change, one recovery, retries, formats, no leaked secret.

Runs the real script locally with fixed check results (PROBE_RESULTS) and a local
webhook receiver; nothing here needs root or a lab host.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.shared.conftest import REPO, clean_env
from tests.shared.monitoring.fakes import receiver_handler, serve

SCRIPT = REPO / "shared" / "monitoring" / "uptime_probe.sh"
TOKEN = "s3cret-hook-token"


@dataclass
class Probe:
    tmp: Path
    url: str
    received: Path
    fmt: str = "generic"
    outputs: list[str] = field(default_factory=list)

    def run(self, results: dict[str, str], url: str | None = None) -> subprocess.CompletedProcess[str]:
        config = self.tmp / "monitoring.json"
        config.write_text(json.dumps({"stack": "s1", "alert": {"format": self.fmt, "telegram_chat_id": "-100123"}}))
        data = self.tmp / "results.json"
        data.write_text(json.dumps([{"name": n, "status": s, "summary": f"{n} is {s}"} for n, s in results.items()]))
        state = self.tmp / "probe-state"
        state.mkdir(exist_ok=True)
        env = clean_env(self.tmp, MONITORING_CONFIG=str(config), PROBE_RESULTS=str(data), PROBE_STATE_DIR=str(state),
                        ALERT_WEBHOOK_URL=self.url if url is None else url, PROBE_SEND_TIMEOUT="3")
        out = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False)
        assert out.returncode == 0, out.stderr
        self.outputs.append(out.stdout + out.stderr)
        return out

    def alerts(self) -> list[dict[str, Any]]:
        if not self.received.exists():
            return []
        return [json.loads(line)["body"] for line in self.received.read_text().splitlines()]


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[Probe]:
    received = tmp_path / "received.jsonl"
    server = serve(receiver_handler(str(received)), 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Probe(tmp_path, f"http://127.0.0.1:{server.server_address[1]}/hook/{TOKEN}", received)
    server.shutdown()
    server.server_close()


def events(probe: Probe) -> list[tuple[str, str, str, str]]:
    return [(a["event"], a["check"], a["previous"], a["status"]) for a in probe.alerts()]


def test_alerts_only_on_state_changes(probe: Probe) -> None:
    """A long outage is one alert and one recovery, not one per probe."""
    probe.run({"a": "OK", "b": "OK", "chrony": "SKIPPED"})
    assert probe.alerts() == [], "healthy or skipped checks never alert"
    for _ in range(3):
        probe.run({"a": "CRIT", "b": "OK", "chrony": "SKIPPED"})
    probe.run({"a": "WARN", "b": "OK", "chrony": "SKIPPED"})
    for _ in range(2):
        probe.run({"a": "OK", "b": "OK", "chrony": "SKIPPED"})
    assert events(probe) == [("problem", "a", "OK", "CRIT"), ("problem", "a", "CRIT", "WARN"),
                             ("recovery", "a", "WARN", "OK")]
    alert = probe.alerts()[0]
    assert alert["source"] == "infrakit" and alert["stack"] == "s1" and alert["summary"] == "a is CRIT"
    assert "infrakit: step=uptime_probe changed=0" in probe.outputs[-1]


def test_first_probe_of_a_failing_check_alerts(probe: Probe) -> None:
    probe.run({"a": "UNKNOWN"})
    assert events(probe) == [("problem", "a", "OK", "UNKNOWN")]


def test_undelivered_alert_is_retried_not_lost(probe: Probe) -> None:
    probe.run({"a": "CRIT"}, url="http://127.0.0.1:1/down")
    assert probe.alerts() == []
    assert "will retry" in probe.outputs[-1]
    probe.run({"a": "CRIT"})
    probe.run({"a": "CRIT"})
    assert events(probe) == [("problem", "a", "OK", "CRIT")]


def test_no_webhook_means_log_only(probe: Probe) -> None:
    out = probe.run({"a": "CRIT"}, url="")
    assert "PROBLEM: a OK -> CRIT" in out.stderr and probe.alerts() == []


def test_secret_url_is_never_printed(probe: Probe) -> None:
    probe.run({"a": "CRIT"})
    probe.run({"a": "OK"}, url=f"http://127.0.0.1:1/{TOKEN}")
    assert not any(TOKEN in out for out in probe.outputs)


@pytest.mark.parametrize(("fmt", "keys"), [("telegram", {"chat_id", "text", "disable_web_page_preview"}),
                                           ("discord", {"content", "username"})])
def test_chat_formats(probe: Probe, fmt: str, keys: set[str]) -> None:
    probe.fmt = fmt
    probe.run({"peers": "CRIT"})
    probe.run({"peers": "OK"})
    first, second = probe.alerts()
    assert set(first) == keys
    text = first.get("text") or first["content"]
    assert text.startswith("PROBLEM s1/") and "peers is CRIT (was OK)" in text
    assert (second.get("text") or second["content"]).startswith("RECOVERY s1/")
    if fmt == "telegram":
        assert first["chat_id"] == "-100123"


def test_removed_checks_are_forgotten(probe: Probe) -> None:
    probe.run({"a": "CRIT", "b": "CRIT"})
    probe.run({"a": "CRIT"})
    state = json.loads((probe.tmp / "probe-state" / "state.json").read_text())
    assert state == {"a": "CRIT"}
    assert oct((probe.tmp / "probe-state" / "state.json").stat().st_mode & 0o777) == "0o600"
