"""`infrakit status STACK`: the host's health as its status server reports it, read over SSH.

Exit codes: 0 healthy (status OK), 1 not healthy (WARN, CRIT, UNKNOWN), 3 status unknown
(no connection, status server not answering or still starting).
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

EXIT_HEALTHY, EXIT_UNHEALTHY, EXIT_UNKNOWN = 0, 1, 3
STYLES = {"OK": "green", "SKIPPED": "dim", "WARN": "yellow", "CRIT": "bold red", "UNKNOWN": "magenta"}

# Runs on the host (python3 is there: the status server is Python). Prints the body; exit 0
# for 200, 2 while the server is starting (503), 1 when it does not answer.
FETCH = """\
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
        sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    sys.stdout.write(e.read().decode()); sys.exit(2 if e.code == 503 else 1)
except OSError as e:
    sys.stderr.write(str(e) + "\\n"); sys.exit(1)
"""


class StatusUnavailableError(Exception):
    """The status could not be read; the message says why."""


def status_url(listen: str, port: int) -> str:
    host = "127.0.0.1" if listen in {"0.0.0.0", ""} else listen  # noqa: S104 - the host it binds, asked locally
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/status"


def fetch_command(url: str) -> str:
    return f"python3 -c {shlex.quote(FETCH)} {shlex.quote(url)}"


def parse(exit_code: int, body: str, url: str) -> dict[str, Any]:
    if exit_code == 2:
        raise StatusUnavailableError(f"the status server at {url} is starting (its first checks are not done yet)")
    if exit_code != 0:
        raise StatusUnavailableError(f"the status server at {url} does not answer (is monitoring converged?)")
    try:
        doc = json.loads(body)
    except json.JSONDecodeError:
        raise StatusUnavailableError(f"the status server at {url} did not return JSON") from None
    if not isinstance(doc, dict) or "status" not in doc:
        raise StatusUnavailableError(f"the status server at {url} returned no 'status'")
    return doc


def exit_code(doc: Mapping[str, Any]) -> int:
    return EXIT_HEALTHY if doc.get("healthy") is True and doc.get("status") == "OK" else EXIT_UNHEALTHY


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _word(status: str) -> Text:
    return Text(status, style=STYLES.get(status, ""))


def render(doc: Mapping[str, Any], now: float | None = None) -> Group:
    now = time.time() if now is None else now
    head = Text.assemble(
        f"{doc.get('stack')} ({doc.get('chain')}/{doc.get('role')}) on {doc.get('host')}: ",
        _word(str(doc.get("status"))),
        f"  checked {doc.get('generated_at')}",
    )
    checks = Table("check", "kind", "status", "for", "summary", title="checks", title_justify="left")
    for c in doc.get("checks", []):
        since = c.get("since") or 0
        checks.add_row(
            c.get("name"),
            c.get("kind"),
            _word(str(c.get("status"))),
            _ago(now - since if since else None),
            c.get("summary"),
        )
    services = Table("unit", "state", "up for", title="services", title_justify="left")
    for s in doc.get("services", []):
        state = str(s.get("state"))
        style = "green" if s.get("active") else ("dim" if state == "condition-skipped" else "bold red")
        services.add_row(s.get("unit"), Text(state, style=style), _ago(s.get("active_seconds")))
    disks = Table("path", "used", "free", title="disks", title_justify="left")
    for d in doc.get("disks", []):
        if "error" in d:
            disks.add_row(d.get("path"), Text(d["error"], style="red"), "-")
        else:
            free = f"{d.get('avail_bytes', 0) / 1e9:.1f} GB"
            disks.add_row(d.get("path"), f"{100 * d.get('used_ratio', 0):.0f}%", free)
    versions = doc.get("versions", {})
    apply = doc.get("last_apply", {})
    facts = Table.grid(padding=(0, 2))
    facts.add_row("os", f"{versions.get('os')} (kernel {versions.get('kernel')})")
    for package, version in sorted((versions.get("packages") or {}).items()):
        facts.add_row(package, str(version or "not installed"))
    facts.add_row("last apply", f"{apply.get('time') or 'never'} (step {apply.get('step') or '-'})")
    return Group(head, checks, services, disks, facts)


def show(doc: Mapping[str, Any], console: Console) -> int:
    console.print(render(doc))
    return exit_code(doc)
