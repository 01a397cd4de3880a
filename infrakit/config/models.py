"""The stack configuration: what one stack file (`stacks/Pulumi.<stack>.yaml`) may say.

One stack = one chain + one role on one host. Keys are camelCase, as in any Pulumi
config; every model forbids unknown keys so a typo is an error, not a silent default.
Chain-specific validation (roles, networks, chain settings) is the chain adapter's (see
infrakit.chain), which `infrakit.config.loader` consults after these models parse.
"""

from __future__ import annotations

import base64
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

from infrakit.config import values

NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")
LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")
SSH_KEY_RE = re.compile(
    r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
    r"sk-ecdsa-sha2-nistp256@openssh\.com|ssh-rsa) [A-Za-z0-9+/=]{40,}( [^\n]*)?$"
)


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


def _ssh_public_key(value: str) -> str:
    if not SSH_KEY_RE.fullmatch(value):
        raise ValueError(
            "expected one OpenSSH public key line, e.g. 'ssh-ed25519 AAAA... ops@laptop' "
            "(a private key or a key file path is not accepted)"
        )
    if value.startswith("ssh-rsa "):
        raise ValueError("RSA keys are refused; use an ed25519 or ECDSA key")
    return value


def _unix_name(value: str) -> str:
    if not NAME_RE.fullmatch(value) or value == "root":
        raise ValueError("expected a lower-case Unix user name (not root), e.g. 'ops'")
    return value


HOST_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa")


def _host_key(value: str) -> str:
    """A pinned SSH host key: "type base64" as in known_hosts or /etc/ssh/ssh_host_*_key.pub."""
    parts = value.split()
    expected = "expected the host's public key as 'ssh-ed25519 AAAA...' (from ssh-keyscan or " \
               "/etc/ssh/ssh_host_ed25519_key.pub, checked out of band)"
    if len(parts) not in (2, 3) or parts[0] not in HOST_KEY_TYPES:
        raise ValueError(expected)
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise ValueError(expected) from None
    length = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else 0
    if blob[4:4 + length] != parts[0].encode():
        raise ValueError(f"{expected}: the key data is not a {parts[0]} key")
    return f"{parts[0]} {parts[1]}"


def _login_name(value: str) -> str:
    if not NAME_RE.fullmatch(value):
        raise ValueError("expected a lower-case Unix user name such as ops or root")
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
LoginName = Annotated[str, AfterValidator(_login_name)]
HostKey = Annotated[str, AfterValidator(_host_key)]
HostAddress = Annotated[str, AfterValidator(values.host_name_or_address)]
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
            if not LABEL_RE.fullmatch(key) or (val and not LABEL_RE.fullmatch(val)):
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
    user: LoginName | None = None
    protection: bool | None = None
    # Pin the host's SSH key; unset, the key seen on first use is recorded in Pulumi state
    # (and must match on every later connection).
    host_key: HostKey | None = None
    # Log in as this user (typically root) while the admin user does not exist yet: the first
    # converge of a server that so far only has root. Only after the admin login is refused.
    bootstrap_user: LoginName | None = None


HostTarget = Annotated[HcloudTarget | ExistingTarget, Field(discriminator="target")]


class AccessConfig(Model):
    """Who may log in, from where, and how."""

    admin_user: UnixName = "ops"
    admin_keys: list[SshPublicKey] = Field(min_length=1)
    admin_cidrs: list[Cidr] = Field(min_length=1)
    allow_ssh_from_anywhere: bool = False
    ssh_port: Port = 22
    # A port migration, phase 1: sshd also listens here, both firewalls keep it open, and
    # Pulumi/`infrakit apply` fall back to it while sshPort does not answer yet. Remove it
    # (phase 2) once a login on sshPort works. runbooks/hardened-host.md
    previous_ssh_port: Port | None = None

    @property
    def ssh_ports(self) -> tuple[int, ...]:
        """Every port sshd listens on: sshPort, then the previous one during a migration."""
        return (self.ssh_port,) + ((self.previous_ssh_port,) if self.previous_ssh_port else ())

    @property
    def ssh_open_to_world(self) -> bool:
        return values.covers_world(self.admin_cidrs) is not None

    @model_validator(mode="after")
    def _previous_port_differs(self) -> AccessConfig:
        if self.previous_ssh_port is not None and self.previous_ssh_port == self.ssh_port:
            raise ValueError(
                f"previousSshPort is the same as sshPort ({self.ssh_port}): it names the port a migration "
                "moves away from; remove it when no migration is running"
            )
        return self

    @model_validator(mode="after")
    def _world_needs_opt_in(self) -> AccessConfig:
        family = values.covers_world(self.admin_cidrs)
        if family and not self.allow_ssh_from_anywhere:
            raise ValueError(
                f"adminCidrs together cover every {family} address: SSH open to the whole internet "
                "needs allowSshFromAnywhere: true"
            )
        return self




class SshHardening(Model):
    """sshd settings in the spirit of dev-sec's ssh_hardening; each default is the safe one."""

    permit_root_login: bool = False
    max_auth_tries: int = Field(default=2, ge=1, le=6)
    login_grace_time: int = Field(default=30, ge=10, le=120)
    client_alive_interval: int = Field(default=300, ge=0, le=3600)
    client_alive_count_max: int = Field(default=2, ge=0, le=10)
    allow_tcp_forwarding: bool = False
    allow_agent_forwarding: bool = False
    x11_forwarding: bool = False
    # Sessions (channels) per connection. Not Lynis' 2: the Pulumi provider runs every step
    # of a host as a channel on one pooled connection, several at once during a preview.
    max_sessions: int = Field(default=10, ge=1, le=64)
    # Key exchange: the post-quantum hybrid only, plus the classical curve25519/DH set while
    # `classicalKexFallback` is on (see docs/hardening-audit.md for why it is on by default).
    # Setting `kexAlgorithms` replaces both.
    kex_algorithms: Annotated[list[str], Field(min_length=1), AfterValidator(values.strong_kex)] | None = None
    classical_kex_fallback: bool = True
    # New SSH connections per client address, at the firewall (an nftables meter): the
    # excess is dropped before sshd (brute force, DHEat). An apply uses one or two.
    new_connections_per_minute: int = Field(default=60, ge=6, le=6000)
    new_connections_burst: int = Field(default=20, ge=1, le=1000)
    ciphers: Annotated[list[str], AfterValidator(values.strong_ciphers)] = Field(
        default=list(values.STRONG_CIPHERS), min_length=1)
    macs: Annotated[list[str], AfterValidator(values.strong_macs)] = Field(
        default=list(values.STRONG_MACS), min_length=1)

    @property
    def kex(self) -> list[str]:
        """The KexAlgorithms sshd offers."""
        if self.kex_algorithms is not None:
            return list(self.kex_algorithms)
        return [*values.PQ_KEX, *(values.CLASSICAL_KEX if self.classical_kex_fallback else ())]


SYSCTL_KEY_RE = r"^[a-z0-9_]+(\.[a-zA-Z0-9_*-]+)+$"


class SysctlHardening(Model):
    """Kernel settings: the shipped network/kernel set plus operator overrides."""

    enabled: bool = True
    overrides: dict[Annotated[str, Field(pattern=SYSCTL_KEY_RE)],
                    Annotated[int | str, AfterValidator(values.sysctl_value)]] = {}


class Fail2banHardening(Model):
    enabled: bool = True
    max_retry: int = Field(default=5, ge=1, le=20)
    find_time: int = Field(default=600, ge=60, le=86400)
    ban_time: int = Field(default=3600, ge=60, le=604800)
    ignore_cidrs: list[Cidr] = []
    # The admin CIDRs are never banned (an operator who mistypes a key six times must not
    # lose SSH and `apply` for banTime). Opt out to let fail2ban ban them like anyone.
    ignore_admin_cidrs: bool = True

    @model_validator(mode="after")
    def _not_everyone(self) -> Fail2banHardening:
        family = values.covers_world(self.ignore_cidrs)
        if family:
            raise ValueError(
                f"ignoreCidrs together cover every {family} address: fail2ban would ban no one "
                "(to turn it off, set enabled: false)"
            )
        return self


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
    # Debian policy package names; the name lands on apt-get's command line.
    extra_packages: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9+.-]{1,99}$")]] = []


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
    def ssh_user(self) -> str:
        if isinstance(self.host, ExistingTarget) and self.host.user:
            return self.host.user
        return self.access.admin_user

    @property
    def fail2ban_ignore(self) -> list[str]:
        """fail2ban's ignoreip: loopback, the admin CIDRs (unless opted out, or unless they are
        the whole internet: then fail2ban would protect nothing), and ignoreCidrs."""
        f2b = self.hardening.fail2ban
        admins = self.access.admin_cidrs if f2b.ignore_admin_cidrs and not self.access.ssh_open_to_world else []
        ordered = ["127.0.0.0/8", "::1/128", *admins, *f2b.ignore_cidrs]
        return list(dict.fromkeys(ordered))

    @model_validator(mode="after")
    def _fail2ban_bans_someone(self) -> StackConfig:
        family = values.covers_world(self.fail2ban_ignore)
        if self.hardening.fail2ban.enabled and family:
            raise ValueError(
                f"hardening.fail2ban: adminCidrs and ignoreCidrs together cover every {family} address, "
                "so fail2ban would ban no one; narrow them or set ignoreAdminCidrs: false"
            )
        return self

    @model_validator(mode="after")
    def _no_lockout(self) -> StackConfig:
        if self.ssh_user == "root" and not self.hardening.ssh.permit_root_login:
            raise ValueError(
                "host.user is root but hardening.ssh.permitRootLogin is false: the next run "
                "would be locked out. Log in as the admin user (leave host.user unset) and "
                "bootstrap it once with `infrakit apply STACK --bootstrap-user root`"
            )
        return self
