"""A hardened systemd service unit for a long-running daemon, as every chain needs one.

The unit runs the daemon as its own user with the sandboxing it tolerates
(shared/services/templates/hardened.service.j2: ProtectSystem=strict with only its data
directory writable, no capabilities, a system-call filter, private /tmp and devices, ...;
`systemd-analyze security` scores it). A chain adapter describes its daemon as a
`ServiceUnit` and installs the rendered text with shared/services/install_systemd.sh.

Every value is checked for the place it lands: a newline or a stray quote in a unit file
would add a directive, so anything that is not plainly safe is refused or quoted here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from infrakit.plan.templates import render

TEMPLATE = "shared/services/templates/hardened.service.j2"
SAFE_WORD = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=,@+-")
UNIT_RE = re.compile(r"^[A-Za-z0-9@._:-]+\.(service|socket|timer|target|path|mount)$")
USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
IDENT_RE = re.compile(r"^[A-Za-z0-9@._:-]{1,64}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
X_FIELD_RE = re.compile(r"^[A-Z][A-Za-z0-9-]{0,40}$")
PATH_RE = re.compile(r"^/[A-Za-z0-9._/@+-]*$")


@dataclass(frozen=True)
class ServiceUnit:
    """What a daemon needs; everything else is the hardened default."""

    ident: str  # the unit is <ident>.service; also its SyslogIdentifier
    description: str
    user: str  # its own account (and group of the same name)
    exec_start: Sequence[str]  # argv
    owner: str  # who manages the unit, for its first comment line (e.g. adapters/ethereum)
    notes: Sequence[str] = ()  # further comment lines at the top (where flags were checked, ...)
    wants: Sequence[str] = ()  # units started with it and ordered before it
    groups: Sequence[str] = ()  # supplementary groups (e.g. to read a shared secret)
    environment: Mapping[str, str] = field(default_factory=dict)
    working_directory: str | None = None
    exec_start_pre: Sequence[Sequence[str]] = ()
    read_write: Sequence[str] = ()  # the only writable paths (ProtectSystem=strict)
    stop_timeout: int = 180
    jit: bool = False  # a JIT runtime (JVM, .NET, V8) needs writable+executable memory
    x_fields: Mapping[str, str] = field(default_factory=dict)  # X-InfraKit-<key>= lines, for review
    # Restarted every RestartSec forever (StartLimitIntervalSec=0), these lines saying why;
    # empty: systemd's default start limit applies.
    no_start_limit: Sequence[str] = ()
    # Exit statuses after which the daemon must not be restarted, and why (e.g. it found its
    # signing keys live elsewhere).
    restart_prevent: Sequence[int] = ()
    restart_prevent_why: str = ""
    start_timeout: int | None = None  # TimeoutStartSec (default: systemd's)

    @property
    def name(self) -> str:
        return f"{self.ident}.service"


def quote(arg: str) -> str:
    """One ExecStart word: systemd specifiers (%) and variables ($) escaped, quoted if needed."""
    _one_line("argument", arg)
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if escaped and set(escaped) <= SAFE_WORD:
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command_line(argv: Sequence[str]) -> str:
    """argv as an ExecStart value: one option (with its value) per continued line, for review."""
    if not argv or not argv[0].startswith("/"):
        raise ValueError(f"a unit's command must start with an absolute path, got {list(argv)[:1]}")
    lines: list[list[str]] = [[quote(argv[0])]]
    for arg in argv[1:]:
        if arg.startswith("-") or len(lines) == 1:
            lines.append([quote(arg)])
        else:
            lines[-1].append(quote(arg))
    return " \\\n    ".join(" ".join(words) for words in lines)


def environment_line(name: str, value: str) -> str:
    """One Environment= assignment; quoted (and % escaped) unless plainly safe."""
    if not ENV_NAME_RE.match(name):
        raise ValueError(f"environment name {name!r} is not a shell variable name")
    _one_line(f"environment {name}", value)
    assignment = f"{name}={value.replace('%', '%%')}"
    if set(assignment) <= SAFE_WORD:
        return assignment
    return '"' + assignment.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_service_unit(unit: ServiceUnit) -> str:
    _check(unit)
    return render(
        TEMPLATE,
        owner=unit.owner,
        notes=list(unit.notes),
        description=unit.description,
        wants=list(unit.wants),
        x_fields=dict(unit.x_fields),
        user=unit.user,
        groups=list(unit.groups),
        environment=[environment_line(k, v) for k, v in unit.environment.items()],
        working_directory=unit.working_directory,
        exec_start_pre=[command_line(argv) for argv in unit.exec_start_pre],
        exec_start=command_line(unit.exec_start),
        stop_timeout=unit.stop_timeout,
        ident=unit.ident,
        read_write=list(unit.read_write),
        jit=unit.jit,
        no_start_limit=list(unit.no_start_limit),
        restart_prevent=" ".join(str(code) for code in unit.restart_prevent),
        restart_prevent_why=unit.restart_prevent_why,
        start_timeout=unit.start_timeout,
    )


def _one_line(what: str, value: str) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{what}: {value!r} has a control character (a newline would add a unit directive)")


def _check(unit: ServiceUnit) -> None:
    if not IDENT_RE.match(unit.ident) or not UNIT_RE.match(unit.name):
        raise ValueError(f"unit ident {unit.ident!r}: expected [A-Za-z0-9@._:-], at most 64 characters")
    if not USER_RE.match(unit.user):
        raise ValueError(f"unit {unit.name}: user {unit.user!r} is not a system user name")
    for group in unit.groups:
        if not USER_RE.match(group):
            raise ValueError(f"unit {unit.name}: group {group!r} is not a group name")
    for other in unit.wants:
        if not UNIT_RE.match(other):
            raise ValueError(f"unit {unit.name}: wants {other!r}, which is not a unit name")
    for path in [*unit.read_write, *([unit.working_directory] if unit.working_directory else [])]:
        if not PATH_RE.match(path) or "/../" in f"{path}/":
            raise ValueError(f"unit {unit.name}: {path!r} is not a plain absolute path")
    for key, value in unit.x_fields.items():
        if not X_FIELD_RE.match(key):
            raise ValueError(f"unit {unit.name}: X-InfraKit-{key} is not a field name")
        _one_line(f"unit {unit.name}: X-InfraKit-{key}", value)
    for what, text in (("description", unit.description), ("owner", unit.owner), *(("note", n) for n in unit.notes)):
        _one_line(f"unit {unit.name}: {what}", text)
    _check_restart(unit)


def _check_restart(unit: ServiceUnit) -> None:
    for line in unit.no_start_limit:
        _one_line(f"unit {unit.name}: no_start_limit", line)
    _one_line(f"unit {unit.name}: restart_prevent_why", unit.restart_prevent_why)
    if unit.restart_prevent and not unit.restart_prevent_why:
        raise ValueError(f"unit {unit.name}: say why it must not restart after {list(unit.restart_prevent)}")
    if any(not 1 <= code <= 255 for code in unit.restart_prevent):
        raise ValueError(f"unit {unit.name}: exit statuses are 1-255, got {list(unit.restart_prevent)}")
    if unit.start_timeout is not None and not 1 <= unit.start_timeout <= 86400:
        raise ValueError(f"unit {unit.name}: start timeout {unit.start_timeout} s is not within 1-86400")
    if not 1 <= unit.stop_timeout <= 3600:
        raise ValueError(f"unit {unit.name}: stop timeout {unit.stop_timeout} s is not within 1-3600")
