"""The web tier's steps: nginx + certbot, or caddy with its own ACME, in front of RPC and status.

Only when `web.enabled`. Ports 80 (ACME HTTP-01 and the redirect) and 443 become public
plan ports, so the host and cloud firewalls open them; with the web tier off they stay
closed. The RPC location needs the allowlist and/or basic auth the config demands; the
basic-auth hash is the secret `webBasicAuthHash`, sent to the step on stdin.
"""

from __future__ import annotations

from infrakit.config.errors import ConfigError
from infrakit.config.loader import Stack
from infrakit.config.web import WebConfig
from infrakit.plan.model import HealthCheck, OpenPort, RenderedFile, Service, Step
from infrakit.plan.parts import PlanParts
from infrakit.plan.templates import render

WEBROOT = "/var/www/infrakit-acme"
TLS_ROOT = "/etc/infrakit/tls"
ACME_CA_FILE = f"{TLS_ROOT}/acme-ca.pem"
NGINX_AUTH_FILE = "/etc/nginx/infrakit-rpc.htpasswd"
CADDY_AUTH_FILE = "/etc/caddy/infrakit-auth.caddy"
AUTH_SECRET = "webBasicAuthHash"  # noqa: S105 - the secret key name, not a secret
CERT_WARN_DAYS = 14
CONNLIMIT_FILE = "/etc/infrakit/web-connlimit.nft"
CONNLIMIT_UNIT = "infrakit-web-connlimit.service"


def _tpl(name: str, **context: object) -> str:
    return render(f"shared/web/templates/{name}.j2", **context)


def _access(web: WebConfig) -> str:
    parts = []
    if web.rpc_allow_cidrs:
        parts.append("a source address in " + ", ".join(web.rpc_allow_cidrs))
    if web.rpc_basic_auth_user:
        parts.append(f"basic auth as {web.rpc_basic_auth_user}")
    return " and ".join(parts)


def _status_upstream(stack: Stack) -> str:
    mon = stack.config.monitoring
    if not (stack.config.web.status_page and mon.enabled):
        return ""
    host = f"[{mon.status_listen}]" if ":" in mon.status_listen else mon.status_listen
    return f"{host}:{mon.status_port}"


def _auth_secrets(stack: Stack) -> dict[str, str]:
    web = stack.config.web
    if not web.rpc_basic_auth_user:
        return {}
    if AUTH_SECRET not in stack.secrets:
        raise ConfigError(stack.name, [(
            "infrakit:web.rpcBasicAuthUser",
            f"needs the secret {AUTH_SECRET} (a bcrypt hash: `htpasswd -nBC 12 {web.rpc_basic_auth_user}`, "
            f"then `pulumi config set --secret {AUTH_SECRET} '$2y$...'`)",
        )])
    return {"RPC_AUTH_HASH": AUTH_SECRET}


def _ca_file(web: WebConfig) -> tuple[RenderedFile, ...]:
    if not web.acme_ca_root:
        return ()
    return (RenderedFile(name="acme-ca.pem", dest=ACME_CA_FILE, content=web.acme_ca_root),)


def nginx_steps(stack: Stack) -> list[Step]:
    web = stack.config.web
    assert web.domain and web.acme_email
    tls_dir = f"{TLS_ROOT}/{web.domain}"
    context = {
        "domain": web.domain, "webroot": WEBROOT, "tls_dir": tls_dir, "rate": web.rate_limit,
        "burst": web.rate_burst, "hsts": web.hsts, "allow": web.rpc_allow_cidrs, "auth_user": web.rpc_basic_auth_user,
        "auth_file": NGINX_AUTH_FILE, "rpc_path": web.rpc_path, "upstream": web.rpc_upstream,
        "status": _status_upstream(stack), "access": _access(web),
    }
    proxy = Step(
        name="web_proxy",
        script="shared/web/install_nginx.sh",
        description=f"nginx: HTTPS reverse proxy for {web.domain} (RPC {web.rpc_path} needs {_access(web)}), "
                    f"HTTP only for ACME and the redirect, {web.rate_limit} req/s per client",
        params={
            "DOMAIN": web.domain,
            "WEBROOT": WEBROOT,
            "TLS_DIR": tls_dir,
            "AUTH_USER": web.rpc_basic_auth_user or "",
            "AUTH_FILE": NGINX_AUTH_FILE,
            "CONNLIMIT_UNIT": CONNLIMIT_UNIT,
        },
        files=(
            RenderedFile(name="infrakit-web.conf", dest="/etc/nginx/conf.d/infrakit-web.conf",
                         content=_tpl("infrakit-web.nginx.conf", **context)),
            RenderedFile(name="50-infrakit-hardening.conf",
                         dest="/etc/systemd/system/nginx.service.d/50-infrakit-hardening.conf",
                         content=_tpl("nginx-hardening.conf")),
        ),
        secrets=_auth_secrets(stack),
    )
    files = [
        RenderedFile(name="50-infrakit-nginx", dest="/etc/letsencrypt/renewal-hooks/deploy/50-infrakit-nginx",
                     mode="0755", content=_tpl("certbot-deploy-hook", domain=web.domain)),
        *_ca_file(web),
    ]
    if web.acme_ca_root:
        files.append(RenderedFile(name="50-infrakit-acme-ca.conf",
                                  dest="/etc/systemd/system/certbot.service.d/50-infrakit-acme-ca.conf",
                                  content=_tpl("certbot-ca.conf", directory=web.acme_directory,
                                               ca_bundle=ACME_CA_FILE)))
    tls = Step(
        name="web_tls",
        script="shared/web/install_ssl_certbot.sh",
        description=f"certbot: certificate for {web.domain} from {web.acme_directory} (webroot), "
                    "renewed by certbot.timer, nginx reloaded on renewal",
        params={
            "DOMAIN": web.domain,
            "ACME_EMAIL": web.acme_email,
            "ACME_DIRECTORY": web.acme_directory,
            "ACME_CA_BUNDLE": ACME_CA_FILE if web.acme_ca_root else "",
            "WEBROOT": WEBROOT,
            "TLS_DIR": tls_dir,
        },
        files=tuple(files),
        requires=("web_proxy",),
    )
    return [proxy, tls]


def caddy_steps(stack: Stack) -> list[Step]:
    web = stack.config.web
    assert web.domain and web.acme_email
    context = {
        "domain": web.domain, "email": web.acme_email, "directory": web.acme_directory,
        "ca_root": ACME_CA_FILE if web.acme_ca_root else "", "hsts": web.hsts, "allow": web.rpc_allow_cidrs,
        "auth_user": web.rpc_basic_auth_user, "auth_file": CADDY_AUTH_FILE, "rpc_path": web.rpc_path,
        "upstream": web.rpc_upstream, "status": _status_upstream(stack), "access": _access(web),
    }
    proxy = Step(
        name="web_proxy",
        script="shared/web/install_caddy.sh",
        description=f"caddy: HTTPS reverse proxy for {web.domain} (RPC {web.rpc_path} needs {_access(web)}), "
                    f"certificate from {web.acme_directory} by caddy's own ACME, renewed by caddy; "
                    f"{web.rate_limit} new connections/s per client (nftables)",
        params={
            "DOMAIN": web.domain,
            "AUTH_USER": web.rpc_basic_auth_user or "",
            "AUTH_FILE": CADDY_AUTH_FILE,
            "CONNLIMIT_UNIT": CONNLIMIT_UNIT,
        },
        files=(
            RenderedFile(name="Caddyfile", dest="/etc/caddy/Caddyfile", content=_tpl("Caddyfile", **context)),
            RenderedFile(name="50-infrakit-hardening.conf",
                         dest="/etc/systemd/system/caddy.service.d/50-infrakit-hardening.conf",
                         content=_tpl("caddy-hardening.conf")),
            RenderedFile(name="web-connlimit.nft", dest=CONNLIMIT_FILE,
                         content=_tpl("web-connlimit.nft", rate=web.rate_limit, burst=web.rate_burst)),
            RenderedFile(name=CONNLIMIT_UNIT, dest=f"/etc/systemd/system/{CONNLIMIT_UNIT}",
                         content=_tpl(CONNLIMIT_UNIT, file=CONNLIMIT_FILE)),
            *_ca_file(web),
        ),
        secrets=_auth_secrets(stack),
    )
    tls = Step(
        name="web_tls",
        script="shared/web/install_acme_ssl.sh",
        description=f"wait until caddy serves an ACME certificate for {web.domain} (not its internal CA)",
        params={"DOMAIN": web.domain, "ISSUE_WAIT": "180"},
        requires=("web_proxy",),
    )
    return [proxy, tls]


def cert_check(domain: str) -> HealthCheck:
    """The certificate actually served on 443 for the domain: CRIT if none, WARN if it expires soon."""
    seconds = CERT_WARN_DAYS * 86400
    command = (
        f"pem=$(openssl s_client -connect 127.0.0.1:443 -servername {domain} </dev/null 2>/dev/null) "
        "|| { echo 'no TLS on 127.0.0.1:443'; exit 2; }; "
        f"if printf '%s' \"$pem\" | openssl x509 -noout -checkend {seconds} >/dev/null; "
        f"then echo 'certificate valid for more than {CERT_WARN_DAYS} days'; "
        f"else echo 'certificate expires within {CERT_WARN_DAYS} days (or is missing)'; exit 1; fi"
    )
    return HealthCheck(name="tls_certificate", kind="command", target=command)


def web_parts(stack: Stack) -> PlanParts:
    """Steps, public ports 80/443, the proxy service and its checks (empty when the tier is off)."""
    web = stack.config.web
    if not web.enabled:
        return PlanParts()
    assert web.domain
    unit = f"{web.server}.service"
    steps = nginx_steps(stack) if web.server == "nginx" else caddy_steps(stack)
    packages = ("nginx", "certbot") if web.server == "nginx" else ("caddy",)
    return PlanParts(
        steps=steps,
        ports=[
            OpenPort(port=80, protocol="tcp", exposure="public", purpose="http acme and redirect"),
            OpenPort(port=443, protocol="tcp", exposure="public", purpose="https rpc and status"),
        ],
        services=[Service(name="web-proxy", unit=unit)],
        health_checks=[HealthCheck(name="web_proxy", kind="systemd", target=unit), cert_check(web.domain)],
        packages=packages,
    )
