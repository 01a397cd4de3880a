"""Lab address allocation: each running lab host holds one index (its 10.199.<idx>.0/24),
recorded in one machine-wide table under a lock, so that hosts of concurrent runs (any
state dir) never get the same address. Names only choose a preferred index (crc32).

Table: ``$INFRAKIT_LAB_ADDRESSES`` or ``/run/infrakit-lab/addresses.json`` (tmpfs: no lab
host survives a reboot, nor does the table), ``{"<idx>": {"state": DIR, "name": NAME,
"since": UNIX_TIME}}``. An entry whose host record (``DIR/hosts/NAME/host.json``) is gone
is free again once it is older than a boot can take.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from infrakit_lab.config import host_index
from infrakit_lab.errors import LabError
from infrakit_lab.locking import file_lock

DEFAULT_TABLE = Path("/run/infrakit-lab/addresses.json")
GRACE = 600.0  # seconds an entry without a host record is kept (between allocation and the record)
FIRST, LAST = 1, 254


def table_path() -> Path:
    return Path(os.environ.get("INFRAKIT_LAB_ADDRESSES") or DEFAULT_TABLE)


def preferred_index(name: str) -> int:
    """'lab' is 0 (the lab stack's fixed 10.199.0.2); other names prefer crc32(name) in 1-254."""
    return host_index(name)


def _load(path: Path) -> dict[int, dict[str, Any]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LabError(f"unreadable lab address table {path}: {exc}") from exc
    return {int(idx): entry for idx, entry in raw.items()}


def _save(path: Path, table: dict[int, dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({str(i): e for i, e in sorted(table.items())}, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def _live(entry: dict[str, Any], now: float) -> bool:
    record = Path(entry["state"]) / "hosts" / entry["name"] / "host.json"
    return record.is_file() or now - float(entry.get("since", 0)) < GRACE


def allocate(name: str, state: Path, *, busy: frozenset[int] | set[int] = frozenset()) -> int:
    """The index of lab host `name` of `state`: its own if it has one, else the preferred one
    if free, else the next free one. `busy`: indexes seen in use on this machine's links."""
    path = table_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    me = {"state": str(state.resolve()), "name": name}
    with file_lock(path.with_suffix(".lock"), timeout=60, what="the lab address table"):
        now = time.time()
        table = {i: e for i, e in _load(path).items() if _live(e, now)}
        for idx, entry in table.items():
            if {"state": entry["state"], "name": entry["name"]} == me:
                return idx
        first = preferred_index(name)
        if first == 0:
            candidates = [0]
        else:
            span = LAST - FIRST + 1
            candidates = [FIRST + (first - FIRST + k) % span for k in range(span)]
        for idx in candidates:
            if idx not in table and idx not in busy:
                table[idx] = {**me, "since": now}
                _save(path, table)
                return idx
        holder = table.get(candidates[0], {})
        raise LabError(
            f"no free lab address for {name}"
            + (f": 10.199.0.2 is held by {holder.get('name')} ({holder.get('state')})" if holder else "")
        )


def release(name: str, state: Path) -> None:
    path = table_path()
    if not path.is_file():
        return
    me = {"state": str(state.resolve()), "name": name}
    with file_lock(path.with_suffix(".lock"), timeout=60, what="the lab address table"):
        table = _load(path)
        kept = {i: e for i, e in table.items() if {"state": e["state"], "name": e["name"]} != me}
        if kept != table:
            _save(path, kept)
