"""The Debian mirror the host's apt uses, and how the host resolves its name.

The lab builds its rootfs from, and points the guests' apt at, the same mirror as the
host (read from /etc/apt at run time, never hard-coded). Overrides:
``INFRAKIT_LAB_MIRROR`` (the main archive URL) and ``INFRAKIT_LAB_SECURITY_MIRROR``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from infrakit_lab.errors import LabError

APT_SOURCES = Path("/etc/apt/sources.list")
APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")
HOSTS_FILE = Path("/etc/hosts")


@dataclass(frozen=True)
class AptSource:
    uri: str
    suites: tuple[str, ...]


@dataclass(frozen=True)
class Mirror:
    debian: str  # e.g. http://deb.debian.org/debian
    security: str  # e.g. http://deb.debian.org/debian-security

    def hostnames(self) -> list[str]:
        names = [urlparse(u).hostname for u in (self.debian, self.security)]
        return sorted({n for n in names if n})


def _parse_deb822(text: str) -> list[AptSource]:
    sources = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0].isspace() and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = tuple(fields.get("suites", "").split())
        sources += [AptSource(uri, suites) for uri in fields.get("uris", "").split()]
    return sources


def _parse_one_line(text: str) -> list[AptSource]:
    sources = []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            sources.append(AptSource(words[0], (words[1],)))
    return sources


def host_apt_sources() -> list[AptSource]:
    """The host's enabled binary apt sources (only the files apt itself reads)."""
    sources = []
    if APT_SOURCES.is_file():
        sources += _parse_one_line(APT_SOURCES.read_text(encoding="utf-8"))
    if APT_SOURCES_DIR.is_dir():
        for path in sorted(APT_SOURCES_DIR.iterdir()):
            if path.suffix == ".list":
                sources += _parse_one_line(path.read_text(encoding="utf-8"))
            elif path.suffix == ".sources":
                sources += _parse_deb822(path.read_text(encoding="utf-8"))
    return sources


def host_mirror(suite: str = "bookworm") -> Mirror:
    """The mirror serving ``suite`` (and its -security suite) to the host's apt."""
    sources = host_apt_sources()
    debian = os.environ.get("INFRAKIT_LAB_MIRROR") or next((s.uri for s in sources if suite in s.suites), None)
    if not debian:
        raise LabError(f"no apt source for {suite} in {APT_SOURCES_DIR}; set INFRAKIT_LAB_MIRROR")
    debian = debian.rstrip("/")
    security = os.environ.get("INFRAKIT_LAB_SECURITY_MIRROR") or next(
        (s.uri for s in sources if f"{suite}-security" in s.suites), None
    )
    if not security:
        security = debian.rsplit("/", 1)[0] + "/debian-security"
    return Mirror(debian=debian, security=security.rstrip("/"))


def static_host_entries(hostnames: list[str]) -> list[str]:
    """Lines of the host's /etc/hosts that name any of ``hostnames``.

    Some machines reach the mirror by a name only their /etc/hosts knows; a guest
    needs the same lines to run apt.
    """
    if not HOSTS_FILE.is_file():
        return []
    wanted = set(hostnames)
    lines = []
    for raw in HOSTS_FILE.read_text(encoding="utf-8").splitlines():
        words = raw.split("#", 1)[0].split()
        if len(words) >= 2 and wanted.intersection(words[1:]):
            lines.append(" ".join(words))
    return lines


def host_nameservers() -> list[str]:
    """IPv4 nameservers of the host that a guest can reach through NAT (no loopback)."""
    path = Path("/etc/resolv.conf")
    if not path.is_file():
        return []
    servers = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        words = raw.split()
        if len(words) >= 2 and words[0] == "nameserver":
            addr = words[1]
            if ":" not in addr and not addr.startswith("127."):
                servers.append(addr)
    return servers
