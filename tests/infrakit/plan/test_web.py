"""The web tier in the plan: 80/443 only when on, RPC never open, the rendered proxy configs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infrakit.config import ConfigError
from infrakit.plan import build_plan
from infrakit.plan.base import firewall_rules
from infrakit.plan.model import HostPlan
from tests.conftest import StackFactory, load_values

PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\n-----END CERTIFICATE-----\n"
WEB = {"enabled": True, "domain": "rpc.example.org", "acmeEmail": "ops@example.org",
       "rpcAllowCidrs": ["198.51.100.0/24"]}


def plan_of(values: dict[str, Any], secure: frozenset[str] = frozenset()) -> HostPlan:
    return build_plan(load_values(values, secure=secure))


def content(plan: HostPlan, step: str, name: str) -> str:
    return next(f.content for f in plan.step(step).step.files if f.name == name)


def test_web_off_means_no_public_port(stack_values: StackFactory) -> None:
    plan = plan_of(stack_values())
    assert plan.public_ports() == []
    assert not [p for p in plan.steps if p.step.name.startswith("web_")]


def test_web_on_opens_exactly_80_and_443_in_the_host_firewall(stack_values: StackFactory) -> None:
    values = stack_values(web=WEB)
    plan = plan_of(values)
    assert sorted((p.port, p.protocol) for p in plan.public_ports()) == [(80, "tcp"), (443, "tcp")]
    rules = firewall_rules(load_values(values).config, list(plan.ports))
    assert {(r["port"], r["source"]) for r in rules if r["port"] in {"80", "443"}} == {("80", "any"), ("443", "any")}
    assert not [r for r in rules if r["port"] in {"9100", "9108"}], "monitoring ports never reach the firewall"
    rendered = content(plan, "firewall_ufw", "rules")
    assert "80" in rendered and "443" in rendered


def test_web_runs_before_monitoring_and_is_watched(stack_values: StackFactory) -> None:
    plan = plan_of(stack_values(web=WEB))
    names = [p.step.name for p in plan.steps]
    assert names[-5:] == ["web_proxy", "web_tls", "node_exporter", "monitoring", "monitoring_units"]
    checks = json.loads(content(plan, "monitoring", "checks.json"))
    by_name = {c["name"]: c for c in checks}
    assert by_name["web_proxy"]["target"] == "nginx.service"
    assert "-servername rpc.example.org" in by_name["tls_certificate"]["target"]


def test_nginx_config(stack_values: StackFactory) -> None:
    plan = plan_of(stack_values(web={**WEB, "rateLimit": 7, "rateBurst": 3}))
    conf = content(plan, "web_proxy", "infrakit-web.conf")
    assert "return 301 https://rpc.example.org$request_uri;" in conf, "redirect to our name, never $host"
    assert "location ^~ /.well-known/acme-challenge/" in conf
    assert "listen 443 ssl http2;" in conf and "ssl_protocols TLSv1.2 TLSv1.3;" in conf
    assert "allow 198.51.100.0/24;\n        deny all;" in conf
    assert "rate=7r/s" in conf and "burst=3 nodelay" in conf
    assert "proxy_pass http://127.0.0.1:8545/;" in conf and "proxy_pass http://127.0.0.1:9108/status;" in conf
    assert "Strict-Transport-Security" in conf and "server_tokens off;" in conf and "auth_basic" not in conf
    tls = plan.step("web_tls").step
    assert tls.params["ACME_DIRECTORY"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert tls.params["ACME_CA_BUNDLE"] == "" and tls.requires == ("web_proxy",)


def test_basic_auth_needs_its_secret(stack_values: StackFactory) -> None:
    values = stack_values(web={**WEB, "rpcBasicAuthUser": "rpc"})
    with pytest.raises(ConfigError, match=r"infrakit:web\.rpcBasicAuthUser: needs the secret webBasicAuthHash"):
        plan_of(values)
    plan = plan_of(values, secure=frozenset({"webBasicAuthHash"}))
    step = plan.step("web_proxy").step
    assert step.secrets == {"RPC_AUTH_HASH": "webBasicAuthHash"}
    assert "RPC_AUTH_HASH" not in step.params and "auth_basic_user_file /etc/nginx/infrakit-rpc.htpasswd;" in \
        content(plan, "web_proxy", "infrakit-web.conf")


def test_private_acme_ca_is_trusted_by_certbot_and_its_timer(stack_values: StackFactory) -> None:
    plan = plan_of(stack_values(web={**WEB, "acmeCaRoot": PEM, "acmeDirectory": "https://ca.internal/dir"}))
    tls = plan.step("web_tls").step
    assert tls.params["ACME_CA_BUNDLE"] == "/etc/infrakit/tls/acme-ca.pem"
    assert content(plan, "web_tls", "acme-ca.pem") == PEM
    assert "Environment=REQUESTS_CA_BUNDLE=/etc/infrakit/tls/acme-ca.pem" in \
        content(plan, "web_tls", "50-infrakit-acme-ca.conf")


def test_caddy_config(stack_values: StackFactory) -> None:
    plan = plan_of(stack_values(web={**WEB, "server": "caddy", "acmeCaRoot": PEM,
                                     "acmeDirectory": "https://ca.internal/dir", "rpcBasicAuthUser": "rpc"}),
                   secure=frozenset({"webBasicAuthHash"}))
    caddyfile = content(plan, "web_proxy", "Caddyfile")
    assert "acme_ca https://ca.internal/dir" in caddyfile and "acme_ca_root /etc/infrakit/tls/acme-ca.pem" in caddyfile
    assert "email ops@example.org" in caddyfile and "rpc.example.org {" in caddyfile
    assert "@rpc_outside not remote_ip 198.51.100.0/24" in caddyfile
    assert 'respond @rpc_outside "forbidden" 403' in caddyfile
    assert "redir https://rpc.example.org{uri} permanent" in caddyfile and "auto_https disable_redirects" in caddyfile
    nft = content(plan, "web_proxy", "web-connlimit.nft")
    assert "limit rate over 20/second burst 40 packets" in nft and "tcp dport { 80, 443 }" in nft
    assert "import /etc/caddy/infrakit-auth.caddy" in caddyfile and "-Server" in caddyfile
    assert plan.step("web_tls").step.script == "shared/web/install_acme_ssl.sh"
    checks = json.loads(content(plan, "monitoring", "checks.json"))
    assert {c["name"]: c["target"] for c in checks}["web_proxy"] == "caddy.service"


def test_status_page_is_not_fronted_without_monitoring(stack_values: StackFactory) -> None:
    plan = plan_of(stack_values(web=WEB, monitoring={"enabled": False}))
    assert "location = /status" not in content(plan, "web_proxy", "infrakit-web.conf")
