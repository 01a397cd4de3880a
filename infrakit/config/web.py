"""`web:` in a stack: a TLS reverse proxy (nginx or caddy) for the node's RPC and status page.

Off by default. When on it needs a DNS name, an ACME account e-mail and an ACME directory
(Let's Encrypt production by default; point `acmeDirectory` at a staging or private CA to
test). The RPC is never open to the world by default: the stack must restrict it with
`rpcAllowCidrs` and/or basic auth (`rpcBasicAuthUser` + the secret `webBasicAuthHash`),
and a world-wide allowlist needs `allowPublicRpc: true`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from infrakit.config import values
from infrakit.config.models import Cidr, Model

LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")
PEM_RE = re.compile(r"^(-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?)+$")


def _domain(value: str) -> str:
    value = value.lower()
    if not DOMAIN_RE.fullmatch(value):
        raise ValueError("expected a DNS name such as rpc.example.org (not an IP address: ACME certifies names)")
    return value


def _email(value: str) -> str:
    if not EMAIL_RE.fullmatch(value):
        raise ValueError("expected an e-mail address for the ACME account, e.g. ops@example.org")
    return value


def _pem(value: str) -> str:
    text = value.strip().replace("\r\n", "\n") + "\n"
    if not PEM_RE.fullmatch(text):
        raise ValueError("expected one or more PEM certificates (-----BEGIN CERTIFICATE----- ...)")
    return text


Domain = Annotated[str, AfterValidator(_domain)]
Email = Annotated[str, AfterValidator(_email)]
PemCertificates = Annotated[str, AfterValidator(_pem)]


class WebConfig(Model):
    """The public face of a node: HTTPS only, RPC behind an allowlist and/or basic auth."""

    enabled: bool = False
    server: Literal["nginx", "caddy"] = "nginx"
    domain: Domain | None = None
    acme_email: Email | None = None
    acme_directory: Annotated[str, AfterValidator(values.https_url)] = LETSENCRYPT
    acme_ca_root: PemCertificates | None = None
    rpc_upstream: str = Field(default="127.0.0.1:8545", pattern=r"^(127\.0\.0\.1|\[::1\]|localhost):[0-9]{1,5}$")
    rpc_path: str = Field(default="/rpc", pattern=r"^/[a-z0-9][a-z0-9/_-]{0,40}$")
    rpc_allow_cidrs: list[Cidr] = Field(default_factory=list)
    rpc_basic_auth_user: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$")
    allow_public_rpc: bool = False
    status_page: bool = True
    # Per client address: requests/s for nginx (limit_req, answers 429); new connections/s
    # for caddy (Debian's caddy has no rate-limit module: an nftables meter drops the excess).
    rate_limit: int = Field(default=20, ge=1, le=10000)
    rate_burst: int = Field(default=40, ge=0, le=100000)
    hsts: bool = True

    @model_validator(mode="after")
    def _coherent(self) -> WebConfig:
        if not self.enabled:
            return self
        missing = [key for key, value in (("domain", self.domain), ("acmeEmail", self.acme_email)) if not value]
        if missing:
            raise ValueError(f"web.enabled needs {' and '.join(missing)}")
        if not self.rpc_allow_cidrs and not self.rpc_basic_auth_user:
            raise ValueError(
                "the RPC would be open to anyone: set rpcAllowCidrs and/or rpcBasicAuthUser "
                "(with the secret webBasicAuthHash)"
            )
        family = values.covers_world(self.rpc_allow_cidrs)
        if family and not self.allow_public_rpc:
            raise ValueError(
                f"rpcAllowCidrs together cover every {family} address: a public RPC needs allowPublicRpc: true"
            )
        return self
