"""Values that reach a host, each checked for the place it lands in (an allowlist per place).

A stack's strings end up in unit files, env files, sshd/fail2ban/sysctl/nginx/caddy configs
and client command lines. Each place has its own metacharacters (a newline starts a new
unit section or sysctl line, caddy expands `{$VAR}`, nginx ends a directive at `;`, a
leading `-` turns a value into a flag), so every validator here accepts only what its place
accepts, and refuses the rest with a message saying what was expected. Guards that reason
about meaning (does a set of CIDRs together open something to the whole internet?) live here
too, so that every key with the same meaning uses the same reasoning.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable

# Pulumi's own rule for stack names (letters, digits, '-', '_', '.'), no leading '.'/'-':
# the name is written into node.env and unit files, so no newline, '=', space or '/'.
STACK_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# RFC 1123 labels: letters, digits and inner hyphens; the last label is not all digits
# (so `300.1.2.3` is neither an address nor a name).
HOST_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# A sysctl.d value: an integer, or words of letters/digits/._:,/- separated by single spaces
# (e.g. `bbr`, `4096 87380 6291456`); never a newline, '=', '#' or a leading '-' on a word.
SYSCTL_VALUE_RE = re.compile(r"^(-?[0-9]+|[A-Za-z0-9][A-Za-z0-9._:,/]*)( [A-Za-z0-9][A-Za-z0-9._:,/]*)*$")
# An https URL that is inert in nginx, caddy, certbot and on a command line: host, optional
# port, path of unreserved characters. No `{`/`$` (caddy placeholders), quotes, `;`,
# spaces, credentials, query or fragment.
HTTPS_URL_RE = re.compile(
    r"^https://(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:(?P<port>[0-9]{1,5}))?(/[A-Za-z0-9._~%/-]*)?$"
)
UNIT_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9:_.@\\-]{0,250}\.(service|socket|timer|mount|path|target)$")
HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")  # an HTTP token (RFC 9110)
HEADER_VALUE_RE = re.compile(r"^[\x20-\x7e]{0,1000}$")  # printable ASCII: no CR/LF
PATH_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$")

WORLD_V4 = ipaddress.IPv4Network("0.0.0.0/0")
WORLD_V6 = ipaddress.IPv6Network("::/0")
# IPv4 reached through IPv6 sockets: a rule for ::ffff:0:0/96 admits every IPv4 client.
MAPPED_V4 = ipaddress.IPv6Network("::ffff:0:0/96")


def stack_name(value: str) -> str:
    if not STACK_NAME_RE.fullmatch(value):
        raise ValueError(
            f"stack name {value!r}: expected letters, digits, '.', '_' and '-' (at most 100, "
            "starting with a letter or digit); it is written into files on the host"
        )
    return value


def host_name_or_address(value: str) -> str:
    """An IPv4/IPv6 address, or a DNS name whose labels are RFC 1123 and whose last label
    is not numeric (`300.1.2.3`, `1.2.3` and `-oProxyCommand=x` are refused)."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if (
        not 1 <= len(value) <= 253
        or not all(HOST_LABEL_RE.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ValueError("expected an IP address (e.g. 203.0.113.7) or a DNS name (e.g. host.example.org)")
    return value


def sysctl_value(value: int | str) -> int | str:
    if isinstance(value, bool):  # YAML `true`: sysctl wants 1/0
        return int(value)
    if isinstance(value, int):
        return value
    if not SYSCTL_VALUE_RE.fullmatch(value) or len(value) > 200:
        raise ValueError(
            "expected an integer or space-separated words of letters, digits and ._:,/ "
            "(e.g. 1, bbr, '4096 87380 6291456')"
        )
    return value


def https_url(value: str) -> str:
    match = HTTPS_URL_RE.fullmatch(value)
    if not match or (match["port"] and not 1 <= int(match["port"]) <= 65535):
        raise ValueError(
            "expected an https:// URL of a host, optional port and a plain path, e.g. "
            "https://acme.example.org/directory (no credentials, query, spaces, quotes, '{', '$' or ';')"
        )
    host = match["host"]
    if not host.startswith("["):
        host_name_or_address(host)
    return value


def unit_name(value: str) -> str:
    if not UNIT_NAME_RE.fullmatch(value):
        raise ValueError("expected a systemd unit name such as chrony.service (letters, digits, ':_.@-')")
    return value


def header_name(value: str) -> str:
    if not HEADER_NAME_RE.fullmatch(value):
        raise ValueError("expected an HTTP header name (letters, digits and -)")
    return value


def header_value(value: str) -> str:
    if not HEADER_VALUE_RE.fullmatch(value):
        raise ValueError("expected printable ASCII (no line breaks) of at most 1000 characters")
    return value


def flag_value(value: str) -> str:
    """A value given to a client as its own argument: it must not read as a flag."""
    if value.startswith("-"):
        raise ValueError("must not start with '-' (the client would read it as a flag)")
    return value


def absolute_path(value: str, under: Iterable[str] = ()) -> str:
    """An absolute, normalised path (no '.', '..', empty or hidden segments), optionally
    confined to one of `under`."""
    segments = value.split("/")
    if not value.startswith("/") or value == "/" or not all(PATH_SEGMENT_RE.fullmatch(s) for s in segments[1:]):
        raise ValueError(
            "expected an absolute path like /var/lib/node (segments of letters, digits, '._-'; "
            "no '..', '.', '//' or trailing '/')"
        )
    roots = tuple(under)
    if roots and not any(value == root or value.startswith(root.rstrip("/") + "/") for root in roots):
        raise ValueError(f"must be under {' or '.join(roots)}")
    return value


def relative_path(value: str, suffix: str = "") -> str:
    """A path inside the repository: relative, no '..', optionally ending in `suffix`."""
    segments = value.split("/")
    if value.startswith("/") or not all(PATH_SEGMENT_RE.fullmatch(s) for s in segments) or not value.endswith(suffix):
        ending = f" ending in {suffix}" if suffix else ""
        raise ValueError(f"expected a relative path inside the project (no '..', no leading '/'){ending}")
    return value


def covers_world(cidrs: Iterable[str]) -> str | None:
    """'IPv4'/'IPv6' when the networks together cover every address of that family (e.g.
    0.0.0.0/1 + 128.0.0.0/1, or ::ffff:0:0/96 for IPv4 clients of an IPv6 socket), else None."""
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for cidr in cidrs:
        net = ipaddress.ip_network(cidr, strict=False)
        if isinstance(net, ipaddress.IPv4Network):
            v4.append(net)
        else:
            v6.append(net)
            if MAPPED_V4.subnet_of(net):
                v4.append(WORLD_V4)
            elif net.subnet_of(MAPPED_V4):
                mapped = net.network_address.ipv4_mapped
                assert mapped is not None
                v4.append(ipaddress.IPv4Network(f"{mapped}/{net.prefixlen - 96}"))
    if WORLD_V4 in list(ipaddress.collapse_addresses(v4)):
        return "IPv4"
    if WORLD_V6 in list(ipaddress.collapse_addresses(v6)):
        return "IPv6"
    return None


# sshd algorithms InfraKit offers: the current strong set (ssh-audit: no fail, no weak
# primitive). Anything else, weak or unknown, is refused rather than passed to sshd.
PQ_KEX = ("sntrup761x25519-sha512@openssh.com",)
CLASSICAL_KEX = (
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
)
STRONG_KEX = (*PQ_KEX, "sntrup761x25519-sha512", "mlkem768x25519-sha256", *CLASSICAL_KEX)
STRONG_CIPHERS = (
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
)
STRONG_MACS = (
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "umac-128-etm@openssh.com",
)


def _allowed(kind: str, allowed: tuple[str, ...]) -> Callable[[list[str]], list[str]]:
    def check(values: list[str]) -> list[str]:
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ValueError(
                f"weak or unknown {kind} {', '.join(repr(b) for b in bad)}: allowed are {', '.join(allowed)}"
            )
        if len(set(values)) != len(values):
            raise ValueError(f"{kind} listed twice")
        return values

    return check


strong_kex = _allowed("key exchange", STRONG_KEX)
strong_ciphers = _allowed("cipher", STRONG_CIPHERS)
strong_macs = _allowed("MAC", STRONG_MACS)
