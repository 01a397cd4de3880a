"""`monitoring:` and `web:` stack keys: safe defaults, and bad values named by key."""

from __future__ import annotations

from typing import Any

import pytest

from infrakit.config import ConfigError
from infrakit.config.web import LETSENCRYPT
from tests.conftest import StackFactory, load_values

PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\n-----END CERTIFICATE-----\n"
WEB = {"enabled": True, "domain": "rpc.example.org", "acmeEmail": "ops@example.org",
       "rpcAllowCidrs": ["198.51.100.0/24"]}


def test_defaults_are_the_safe_ones(stack_values: StackFactory) -> None:
    """Monitoring on and private; the web tier (public ports) off until a stack asks for it."""
    config = load_values(stack_values()).config
    assert config.monitoring.enabled and config.monitoring.status_listen == "127.0.0.1"
    assert config.monitoring.node_exporter_listen == "127.0.0.1" and config.monitoring.alert_format == "generic"
    assert not config.web.enabled and config.web.acme_directory == LETSENCRYPT
    assert config.web.rpc_allow_cidrs == [] and not config.web.allow_public_rpc


def test_a_complete_web_tier_loads(stack_values: StackFactory) -> None:
    web = load_values(stack_values(web={**WEB, "acmeCaRoot": PEM, "server": "caddy"})).config.web
    assert web.domain == "rpc.example.org" and web.server == "caddy" and web.acme_ca_root == PEM


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("public status address", {"monitoring": {"statusListen": "93.184.216.34"}}, "infrakit:monitoring.statusListen",
     "loopback or private"),
    ("wildcard exporter address", {"monitoring": {"nodeExporterListen": "0.0.0.0"}},  # noqa: S104
     "infrakit:monitoring.nodeExporterListen", "loopback or private"),
    ("probe too often", {"monitoring": {"probeInterval": 1}}, "infrakit:monitoring.probeInterval",
     "greater than or equal"),
    ("unknown alert format", {"monitoring": {"alertFormat": "slack"}}, "infrakit:monitoring.alertFormat", "generic"),
    ("telegram without chat", {"monitoring": {"alertFormat": "telegram"}}, "infrakit:monitoring", "telegramChatId"),
    ("typo in monitoring", {"monitoring": {"probeIntervall": 5}}, "infrakit:monitoring.probeIntervall",
     "unknown key"),
    ("threshold without query", {"monitoring": {"checks": [{"name": "x", "kind": "http", "target": "http://a",
                                                            "warn": 1}]}}, "infrakit:monitoring.checks[0]", "query"),
    ("bad tcp target", {"monitoring": {"checks": [{"name": "x", "kind": "tcp", "target": "nope"}]}},
     "infrakit:monitoring.checks[0]", "host:port"),
    ("same port twice", {"monitoring": {"statusPort": 9100}}, "infrakit:monitoring", "must differ"),
    ("web without domain", {"web": {"enabled": True, "acmeEmail": "a@b.org", "rpcAllowCidrs": ["10.0.0.0/8"]}},
     "infrakit:web", "domain"),
    ("web with an IP as domain", {"web": {**WEB, "domain": "203.0.113.5"}}, "infrakit:web.domain", "DNS name"),
    ("open RPC", {"web": {**WEB, "rpcAllowCidrs": []}}, "infrakit:web", "open to anyone"),
    ("world RPC without opt-in", {"web": {**WEB, "rpcAllowCidrs": ["0.0.0.0/0"]}}, "infrakit:web", "allowPublicRpc"),
    ("plain http ACME", {"web": {**WEB, "acmeDirectory": "http://acme.example/dir"}}, "infrakit:web.acmeDirectory",
     "https:// URL"),
    ("not a PEM", {"web": {**WEB, "acmeCaRoot": "hello"}}, "infrakit:web.acmeCaRoot", "PEM"),
    ("remote upstream", {"web": {**WEB, "rpcUpstream": "10.0.0.5:8545"}}, "infrakit:web.rpcUpstream", "pattern"),
    ("typo in web", {"web": {**WEB, "domian": "x"}}, "infrakit:web.domian", "unknown key"),
]


@pytest.mark.parametrize(("why", "overrides", "key", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_values_name_the_key(stack_values: StackFactory, why: str, overrides: dict[str, Any], key: str,
                                 expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_values(stack_values(**overrides), stack="bad")
    message = str(info.value)
    assert f" {key}: " in message or f" {key}" in message, f"{why}: {key} not in {message}"
    assert expected in message, f"{why}: {expected!r} not in {message}"


def test_world_rpc_with_explicit_opt_in(stack_values: StackFactory) -> None:
    web = load_values(stack_values(web={**WEB, "rpcAllowCidrs": ["0.0.0.0/0"], "allowPublicRpc": True})).config.web
    assert web.allow_public_rpc


def test_basic_auth_hash_is_a_secret_key(stack_values: StackFactory) -> None:
    """A bcrypt hash in plain stack config would sit in git; it must be a Pulumi secret."""
    with pytest.raises(ConfigError, match="infrakit:webBasicAuthHash: is a secret"):
        load_values(stack_values(webBasicAuthHash="$2y$12$abc"))
