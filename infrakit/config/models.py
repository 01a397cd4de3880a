"""The stack configuration: what one stack file (`stacks/Pulumi.<stack>.yaml`) may say.

One stack = one chain + one role on one host. Keys are camelCase, as in any Pulumi
config; every model forbids unknown keys so a typo is an error, not a silent default.
Chain-specific validation (roles, networks, chain settings) lives in the adapter registry
(`adapters/`), which `infrakit.config.loader` consults after these models parse.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")
LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")
SSH_KEY_RE = re.compile(
    r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
    r"sk-ecdsa-sha2-nistp256@openssh\.com|ssh-rsa) [A-Za-z0-9+/=]{40,}( [^\n]*)?$"
)
WORLD = {"0.0.0.0/0", "::/0"}


def to_camel(name: str) -> str:
    """snake_case -> camelCase, leaving words with digits alone ('fail2ban' stays)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class Model(BaseModel):
    """Base for every config model: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=False,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
    )


def _cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"expected an IPv4/IPv6 network in CIDR form like 203.0.113.0/24 ({exc})") from None
    return str(net)


def _host_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if re.fullmatch(r"(?=.{1,253}$)([a-zA-Z0-9-]{1,63}\.)*[a-zA-Z0-9-]{1,63}", value):
        return value
    raise ValueError("expected an IP address or a DNS name")


def _ssh_public_key(value: str) -> str:
    if not SSH_KEY_RE.match(value):
        raise ValueError(
            "expected one OpenSSH public key line, e.g. 'ssh-ed25519 AAAA... ops@laptop' "
            "(a private key or a key file path is not accepted)"
        )
    if value.startswith("ssh-rsa "):
        raise ValueError("RSA keys are refused; use an ed25519 or ECDSA key")
    return value


def _unix_name(value: str) -> str:
    if not NAME_RE.match(value) or value == "root":
        raise ValueError("expected a lower-case Unix user name (not root), e.g. 'ops'")
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
HostAddress = Annotated[str, AfterValidator(_host_address)]
SshPublicKey = Annotated[str, AfterValidator(_ssh_public_key)]
UnixName = Annotated[str, AfterValidator(_unix_name)]
Port = Annotated[int, Field(ge=1, le=65535)]


class VolumeConfig(Model):
    """An extra Hetzner volume, e.g. for a chain's data directory."""

    size_gb: int = Field(ge=10, le=10240)
    format: Literal["ext4", "xfs"] = "ext4"


class HcloudTarget(Model):
    """A Hetzner Cloud server created and owned by the stack.

    `sshKeyNames` reuses SSH keys already in the Hetzner project (Hetzner refuses the same
    key twice); when empty, the stack uploads the admin keys as its own SshKey resources.
    """

    target: Literal["hcloud"]
    server_type: str = Field(pattern=r"^[a-z]+[0-9]+[a-z]*$")
    image: str = "debian-12"
    location: Literal["fsn1", "nbg1", "hel1", "ash", "hil", "sin"]
    volume: VolumeConfig | None = None
    backups: bool = False
    protection: bool | None = None
    labels: dict[str, str] = {}
    ssh_key_names: list[Annotated[str, Field(min_length=1, max_length=128)]] = []

    @field_validator("image")
    @classmethod
    def _supported_image(cls, value: str) -> str:
        if value not in {"debian-12", "ubuntu-22.04", "ubuntu-24.04"}:
            raise ValueError("expected one of debian-12, ubuntu-22.04, ubuntu-24.04")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, val in value.items():
            if not LABEL_RE.match(key) or (val and not LABEL_RE.match(val)):
                raise ValueError(
                    f"label {key}={val!r}: expected lower-case letters, digits, '.', '_', '-' "
                    "(Hetzner label rules)"
                )
        return value


class ExistingTarget(Model):
    """A host that already exists: bare metal, a dedicated server, the lab host.

    `user` is the SSH login every step uses (it must be able to sudo without a password);
    by default it is the admin user that the plan manages.
    """

    target: Literal["existing"]
    address: HostAddress
    user: str | None = None
    protection: bool | None = None


HostTarget = Annotated[HcloudTarget | ExistingTarget, Field(discriminator="target")]


class AccessConfig(Model):
    """Who may log in, from where, and how."""

    admin_user: UnixName = "ops"
    admin_keys: list[SshPublicKey] = Field(min_length=1)
    admin_cidrs: list[Cidr] = Field(min_length=1)
    allow_ssh_from_anywhere: bool = False
    ssh_port: Port = 22

    @model_validator(mode="after")
    def _world_needs_opt_in(self) -> AccessConfig:
        world = WORLD.intersection(self.admin_cidrs)
        if world and not self.allow_ssh_from_anywhere:
            raise ValueError(
                f"adminCidrs contains {sorted(world)[0]}: SSH open to the whole internet needs "
                "allowSshFromAnywhere: true"
            )
        return self


STRONG_KEX = [
    "sntrup761x25519-sha512@openssh.com",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
]
STRONG_CIPHERS = [
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
]
STRONG_MACS = [
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "umac-128-etm@openssh.com",
]
ALGO_RE = r"^[a-z0-9@._-]+$"


class SshHardening(Model):
    """sshd settings in the spirit of dev-sec's ssh_hardening; each default is the safe one."""

    permit_root_login: bool = False
    max_auth_tries: int = Field(default=2, ge=1, le=6)
    login_grace_time: int = Field(default=30, ge=10, le=120)
    client_alive_interval: int = Field(default=300, ge=0, le=3600)
    client_alive_count_max: int = Field(default=3, ge=0, le=10)
    allow_tcp_forwarding: bool = False
    allow_agent_forwarding: bool = False
    x11_forwarding: bool = False
    max_sessions: int = Field(default=10, ge=1, le=64)
    kex_algorithms: list[Annotated[str, Field(pattern=ALGO_RE)]] = Field(default=STRONG_KEX, min_length=1)
    ciphers: list[Annotated[str, Field(pattern=ALGO_RE)]] = Field(default=STRONG_CIPHERS, min_length=1)
    macs: list[Annotated[str, Field(pattern=ALGO_RE)]] = Field(default=STRONG_MACS, min_length=1)


SYSCTL_KEY_RE = r"^[a-z0-9_]+(\.[a-zA-Z0-9_*-]+)+$"


class SysctlHardening(Model):
    """Kernel settings: the shipped network/kernel set plus operator overrides."""

    enabled: bool = True
    overrides: dict[Annotated[str, Field(pattern=SYSCTL_KEY_RE)], int | str] = {}


class Fail2banHardening(Model):
    enabled: bool = True
    max_retry: int = Field(default=5, ge=1, le=20)
    find_time: int = Field(default=600, ge=60, le=86400)
    ban_time: int = Field(default=3600, ge=60, le=604800)
    ignore_cidrs: list[Cidr] = []


class UpgradesHardening(Model):
    """Unattended security upgrades. Reboots stay off by default: a validator restarts on
    the operator's schedule, not the package manager's."""

    enabled: bool = True
    auto_reboot: bool = False
    reboot_time: str = Field(default="04:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class TimeSync(Model):
    servers: list[HostAddress] = []


class HardeningConfig(Model):
    ssh: SshHardening = SshHardening()
    sysctl: SysctlHardening = SysctlHardening()
    fail2ban: Fail2banHardening = Fail2banHardening()
    upgrades: UpgradesHardening = UpgradesHardening()
    time_sync: TimeSync = TimeSync()
    extra_packages: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9+.-]+$")]] = []


# Imported here, not at the top: these modules build on Model and the types above.
from infrakit.config.monitoring import MonitoringConfig  # noqa: E402
from infrakit.config.web import WebConfig  # noqa: E402


class StackConfig(Model):
    """Everything one stack says. `chain`/`role`/`network` are checked by the adapter."""

    chain: str
    role: str
    network: str = "none"
    host: HostTarget
    access: AccessConfig
    hardening: HardeningConfig = HardeningConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    web: WebConfig = WebConfig()
    chain_settings: dict[str, object] = {}

    @property
    def validator_like(self) -> bool:
        """Roles that hold keys that must never be lost or run twice."""
        return "validator" in self.role

    @property
    def protected(self) -> bool:
        explicit = self.host.protection
        return self.validator_like if explicit is None else explicit

    @property
    def ssh_user(self) -> str:
        if isinstance(self.host, ExistingTarget) and self.host.user:
            return self.host.user
        return self.access.admin_user

    @model_validator(mode="after")
    def _no_lockout(self) -> StackConfig:
        if self.ssh_user == "root" and not self.hardening.ssh.permit_root_login:
            raise ValueError(
                "host.user is root but hardening.ssh.permitRootLogin is false: the next run "
                "would be locked out. Log in as the admin user (leave host.user unset) and "
                "bootstrap it once with `infrakit apply STACK --bootstrap-user root`"
            )
        return self
