"""`monitoring:` in a stack: the status server, the uptime probe and its alerts, node exporter.

Safe defaults: monitoring is on, everything listens on 127.0.0.1, alerts go to the
`alertWebhookUrl` secret (if the stack sets it) in a generic JSON format. A listen address
may be loopback or private, never public: the web tier (`web:`) fronts the status page
when it must be reachable from outside.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from infrakit.config import values
from infrakit.config.models import Model, Port

CHECK_NAME = r"^[a-z0-9][a-z0-9_.-]{0,40}$"


def _private_address(value: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("expected an IP address such as 127.0.0.1 or a private address like 10.0.0.5") from None
    if address.is_unspecified or not (address.is_loopback or address.is_private):
        raise ValueError(
            "must be a loopback or private address: monitoring endpoints are never public "
            "(let the web tier front the status page instead)"
        )
    return str(address)


PrivateAddress = Annotated[str, AfterValidator(_private_address)]
HTTP_URL_RE = re.compile(r"https?://[A-Za-z0-9\[\]._~:/?#@!&()*+,;=%-]+")


def _tcp_target(value: str) -> None:
    host, sep, port = value.rpartition(":")
    try:
        if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError
        values.host_name_or_address(host.removeprefix("[").removesuffix("]") if host.startswith("[") else host)
    except ValueError:
        raise ValueError("a tcp check's target is host:port, e.g. 127.0.0.1:30303") from None


class CheckConfig(Model):
    """An extra health check (besides the ones the plan and the chain adapter declare).

    kind `systemd`: target is a unit; `tcp`: `host:port`; `http`: a URL, with optional
    `method`/`body`/`headers` (e.g. a JSON-RPC POST), `expect` (a substring of the body) and
    `query` (a jq expression on the JSON body giving a number, compared with `warn`/`crit`;
    `bound: max` means higher is worse, `min` lower is worse); `command`: a command line
    (exit 0 OK, 1 WARN, 2 CRIT, else UNKNOWN), run as the unprivileged monitoring user.
    """

    name: str = Field(pattern=CHECK_NAME)
    kind: Literal["systemd", "tcp", "http", "command"]
    target: str = Field(min_length=1, max_length=1000)
    expect: str = ""
    method: Literal["GET", "POST"] = "GET"
    body: str = ""
    headers: dict[Annotated[str, AfterValidator(values.header_name)],
                  Annotated[str, AfterValidator(values.header_value)]] = Field(default_factory=dict)
    query: str = ""
    warn: float | None = None
    crit: float | None = None
    bound: Literal["max", "min"] = "max"

    @model_validator(mode="after")
    def _coherent(self) -> CheckConfig:
        if self.kind == "systemd":
            values.unit_name(self.target)
        if self.kind == "tcp":
            _tcp_target(self.target)
        if self.kind == "http" and not HTTP_URL_RE.fullmatch(self.target):
            raise ValueError("an http check's target is an http(s):// URL without spaces, quotes or line breaks")
        if (self.warn is not None or self.crit is not None) and not self.query:
            raise ValueError("warn/crit thresholds need a query that yields the number to compare")
        if self.query and self.kind != "http":
            raise ValueError("query/warn/crit apply to http checks only")
        return self


class MonitoringConfig(Model):
    """The host's own monitoring: what it watches, how often, and where it alerts."""

    enabled: bool = True
    probe_interval: int = Field(default=30, ge=5, le=3600)
    check_timeout: int = Field(default=10, ge=1, le=120)
    status_listen: PrivateAddress = "127.0.0.1"
    status_port: Port = 9108
    node_exporter: bool = True
    node_exporter_listen: PrivateAddress = "127.0.0.1"
    node_exporter_port: Port = 9100
    data_dirs: list[Annotated[str, AfterValidator(values.absolute_path)]] = Field(default_factory=list)
    alert_format: Literal["generic", "telegram", "discord"] = "generic"
    telegram_chat_id: str | None = Field(default=None, pattern=r"^-?[0-9]{1,20}$|^@[A-Za-z0-9_]{5,32}$")
    checks: list[CheckConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _coherent(self) -> MonitoringConfig:
        if self.enabled and self.node_exporter and (self.node_exporter_listen, self.node_exporter_port) == (
            self.status_listen, self.status_port
        ):
            raise ValueError("statusPort and nodeExporterPort must differ")
        names = [c.name for c in self.checks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"check names must be unique (repeated: {', '.join(duplicates)})")
        if self.alert_format == "telegram" and self.telegram_chat_id is None:
            raise ValueError("alertFormat telegram needs telegramChatId (the chat the bot posts to)")
        return self
