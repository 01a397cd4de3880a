"""Helpers for the monitoring and web lab tests: bounded waits and test servers in a guest."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Lab

FAKES = Path(__file__).resolve().parents[1] / "shared" / "monitoring" / "fakes.py"


def wait_for(what: str, probe: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def listening(lab: Lab, *ports: int) -> bool:
    out = lab.guest("ss", "-Htln").stdout
    return all(f":{port} " in out for port in ports)


def start_fake(lab: Lab, unit: str, *args: str, port: int) -> None:
    """Run tests/shared/monitoring/fakes.py in the guest as a transient unit (root, 127.0.0.1)."""
    target = lab.host.rootfs / "root" / "fakes.py"
    if not target.exists():
        target.write_text(FAKES.read_text())
    lab.guest("systemd-run", f"--unit={unit}", "python3", "/root/fakes.py", *args)
    wait_for(f"{unit} on port {port}", lambda: listening(lab, port), 20)
