"""Network upgrades and the client releases that support them, per network.

The facts live in versions.toml (`[forks.<name>.<network>]`, each with where it was read) next
to the pinned versions, so a bump and its fork check are reviewed together. `validate` warns
when a stack's network has an upgrade active or scheduled and a pinned client is older than
the oldest release known to support it there, or when no supporting release is known at all:
such a node stops following the chain at activation.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from infrakit.artifacts.manifest import ManifestError

MANIFEST = Path(__file__).resolve().parent / "versions.toml"
STATUSES = ("active", "scheduled", "unscheduled")


@dataclass(frozen=True)
class ForkOnNetwork:
    fork: str
    network: str
    status: str  # active | scheduled | unscheduled
    at: str = ""  # activation time (UTC), empty when unscheduled
    epoch: int | None = None
    source: str = ""
    minimum: dict[str, str] = field(default_factory=dict)  # artifact -> oldest release known to support it

    @property
    def pending_or_active(self) -> bool:
        return self.status in {"active", "scheduled"}


def _utc(text: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def version_key(version: str) -> tuple[int, ...]:
    """1.17.10 > 1.17.9; a suffix (-rc.1, +10) ends the numeric part."""
    head = re.split(r"[^0-9.]", version, maxsplit=1)[0]
    return tuple(int(part) for part in head.split(".") if part.isdigit())


def older(version: str, minimum: str) -> bool:
    return version_key(version) < version_key(minimum)


@cache
def forks(path: Path = MANIFEST) -> tuple[ForkOnNetwork, ...]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the fork table ({exc})") from None
    out = []
    for fork, table in doc.get("forks", {}).items():
        for network, entry in table.items():
            if not isinstance(entry, dict):
                continue
            status = str(entry.get("status", ""))
            if status not in STATUSES:
                raise ManifestError(f"{path}: forks.{fork}.{network}.status: expected one of {', '.join(STATUSES)}")
            if status != "unscheduled" and not entry.get("at"):
                raise ManifestError(f"{path}: forks.{fork}.{network}.at: an {status} upgrade needs its time")
            if entry.get("at") and _utc(str(entry["at"])) is None:
                raise ManifestError(
                    f"{path}: forks.{fork}.{network}.at: expected an ISO 8601 UTC time, e.g. 2026-12-15T19:12:24Z"
                )
            out.append(
                ForkOnNetwork(
                    fork=fork,
                    network=network,
                    status=status,
                    at=str(entry.get("at", "")),
                    epoch=entry.get("epoch"),
                    source=str(entry.get("source", "")),
                    minimum={k: str(v) for k, v in entry.get("min", {}).items()},
                )
            )
    return tuple(out)


def on_network(network: str) -> list[ForkOnNetwork]:
    return [f for f in forks() if f.network == network]


def epbs_active(network: str) -> ForkOnNetwork | None:
    """Glamsterdam brings enshrined proposer-builder separation (EIP-7732): once active, the
    beacon node takes builder bids itself and mev-boost's builder API is no longer used."""
    return next((f for f in on_network(network) if f.fork == "glamsterdam" and f.status == "active"), None)


def epbs_scheduled(network: str) -> ForkOnNetwork | None:
    return next((f for f in on_network(network) if f.fork == "glamsterdam" and f.status == "scheduled"), None)


def readiness_warnings(stack: str, network: str, pinned: dict[str, str]) -> list[str]:
    """One line per pinned client that is not known to follow an active or scheduled upgrade."""
    lines = []
    for fork in on_network(network):
        if not fork.pending_or_active:
            continue
        when = (
            f"{fork.status} on {network} since {fork.at}"
            if fork.status == "active"
            else f"scheduled on {network} at {fork.at}"
        )
        for name, version in sorted(pinned.items()):
            if name in {"jre", "mev-boost"}:
                continue  # not a consensus participant: no fork logic
            minimum = fork.minimum.get(name)
            if minimum is None:
                lines.append(
                    f"stack '{stack}': infrakit:chainSettings.versions.{name}: {fork.fork} is {when}, and no "
                    f"release of {name} is recorded as supporting it there (versions.toml "
                    f"[forks.{fork.fork}.{network}.min]); {name} {version} may stop following the chain at "
                    "activation: read its release notes, pin a release that schedules it and record it"
                )
            elif older(version, minimum):
                lines.append(
                    f"stack '{stack}': infrakit:chainSettings.versions.{name}: {fork.fork} is {when}; {name} "
                    f"{version} is older than {minimum}, the oldest release known to support it there: pin "
                    f"{minimum} or later"
                )
    return lines


def stale_schedule_warnings(stack: str, network: str, now: datetime | None = None) -> list[str]:
    """A 'scheduled' upgrade whose time has passed: the table is out of date, and the plan still
    treats the fork as pending (mev-boost kept, nothing refused). The plan itself never reads the
    clock (its hashes must not move by themselves); validate says what to change instead."""
    now = now or datetime.now(UTC)
    lines = []
    for fork in on_network(network):
        if fork.status != "scheduled":
            continue
        at = _utc(fork.at)
        if at is not None and at <= now:
            lines.append(
                f"stack '{stack}': infrakit:network: {fork.fork} was scheduled on {network} at {fork.at}, which has "
                f"passed, but versions.toml [forks.{fork.fork}.{network}] still says scheduled: confirm the fork "
                'happened, set status = "active" (mev-boost is then dropped; list ePBS builders in '
                "chainSettings.builders) and apply again"
            )
    return lines
