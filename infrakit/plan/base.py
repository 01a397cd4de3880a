"""The shared primitives every host gets: provision, hardening, time, upgrades, node env.

This is the `chain: none` product (a hardened host) and the base under every adapter.
Each function returns one Step; the scripts live in `shared/`, their config files are
rendered here from `shared/<area>/templates/` so reviewers see the exact bytes.
"""

from __future__ import annotations

from infrakit.config.loader import Stack
from infrakit.config.models import StackConfig
from infrakit.plan.firewall import WORLD, inbound_rules
from infrakit.plan.model import OpenPort, RenderedFile, Step
from infrakit.plan.templates import render

BASE_PACKAGES = (
    "apt-listchanges",
    "apt-show-versions",  # which installed packages have updates (Lynis PKGS-7394)
    "ca-certificates",
    "chrony",
    "curl",
    "debsums",  # verify installed files against the packages' checksums
    "jq",
    "libpam-pwquality",  # password strength checks, should a password ever be set
    "libpam-tmpdir",  # a private TMPDIR per login session
    "nftables",
    "sudo",
    "ufw",
    "unattended-upgrades",
)

# The kernel/network set in the spirit of dev-sec os_hardening; overrides win.
SYSCTL_DEFAULTS: dict[str, int | str] = {
    "net.ipv4.conf.all.accept_redirects": 0,
    "net.ipv4.conf.default.accept_redirects": 0,
    "net.ipv4.conf.all.secure_redirects": 0,
    "net.ipv4.conf.default.secure_redirects": 0,
    "net.ipv4.conf.all.send_redirects": 0,
    "net.ipv4.conf.default.send_redirects": 0,
    "net.ipv4.conf.all.accept_source_route": 0,
    "net.ipv4.conf.default.accept_source_route": 0,
    "net.ipv4.conf.all.rp_filter": 1,
    "net.ipv4.conf.default.rp_filter": 1,
    "net.ipv4.conf.all.log_martians": 1,
    "net.ipv4.conf.default.log_martians": 1,
    "net.ipv4.icmp_echo_ignore_broadcasts": 1,
    "net.ipv4.icmp_ignore_bogus_error_responses": 1,
    "net.ipv4.tcp_syncookies": 1,
    # No shipped role routes packets: forwarding is forced off (a host image or a lab machine
    # may have left it on). A role that routes sets it in hardening.sysctl.overrides.
    "net.ipv4.ip_forward": 0,
    "net.ipv6.conf.all.forwarding": 0,
    "net.ipv6.conf.default.forwarding": 0,
    "net.ipv4.tcp_rfc1337": 1,
    "net.ipv6.conf.all.accept_redirects": 0,
    "net.ipv6.conf.default.accept_redirects": 0,
    "net.ipv6.conf.all.accept_source_route": 0,
    "net.ipv6.conf.default.accept_source_route": 0,
    "net.ipv6.conf.all.accept_ra": 0,
    "net.ipv6.conf.default.accept_ra": 0,
    "kernel.kptr_restrict": 2,
    "kernel.dmesg_restrict": 1,
    "kernel.yama.ptrace_scope": 1,
    "kernel.unprivileged_bpf_disabled": 1,
    "kernel.kexec_load_disabled": 1,
    "kernel.sysrq": 0,
    "kernel.randomize_va_space": 2,
    "fs.protected_hardlinks": 1,
    "fs.protected_symlinks": 1,
    "fs.protected_fifos": 2,
    "fs.protected_regular": 2,
    "fs.suid_dumpable": 0,
    "net.core.bpf_jit_harden": 2,
    "vm.mmap_min_addr": 65536,
}

TEMPLATES = "shared/{area}/templates/{name}.j2"
# sysctl.d files apply in name order across /usr/lib, /run and /etc, the last value winning:
# "zz-" sorts after numbered files and after named ones such as Debian's protect-links.conf
# (which sets fs.protected_fifos=1), so these values are the ones a reboot leaves in force.
SYSCTL_FILE = "/etc/sysctl.d/zz-infrakit.conf"


def _tpl(area: str, name: str, **context: object) -> str:
    return render(TEMPLATES.format(area=area, name=name), **context)


def base_packages(config: StackConfig, extra: tuple[str, ...] = ()) -> Step:
    packages = sorted({*BASE_PACKAGES, *config.hardening.extra_packages, *extra})
    return Step(
        name="base_packages",
        script="shared/provision/base_packages.sh",
        description="wait for cloud-init and apt locks, check the OS, install base packages",
        params={"PACKAGES": " ".join(packages), "APT_LOCK_TIMEOUT": "600"},
    )


def create_user(config: StackConfig) -> Step:
    user = config.access.admin_user
    return Step(
        name="create_user",
        script="shared/provision/create_user.sh",
        description=f"admin user {user}: key-only login, exact authorized_keys, sudo",
        params={"ADMIN_USER": user},
        files=(
            RenderedFile(
                name="authorized_keys",
                dest=f"/home/{user}/.ssh/authorized_keys",
                mode="0600",
                owner=f"{user}:{user}",
                content=_tpl("provision", "authorized_keys", keys=config.access.admin_keys),
            ),
            RenderedFile(
                name="sudoers",
                dest=f"/etc/sudoers.d/90-infrakit-{user}",
                mode="0440",
                content=_tpl("provision", "sudoers", user=user),
            ),
        ),
    )


def harden_ssh(config: StackConfig) -> Step:
    ssh = config.hardening.ssh
    allow_users = [config.access.admin_user] + (["root"] if ssh.permit_root_login else [])
    extra_ports = list(config.access.ssh_ports[1:])  # the previous port, during a migration
    params = {
        "ADMIN_USER": config.access.admin_user,
        "SSH_PORT": str(config.access.ssh_port),
        "PERMIT_ROOT_LOGIN": "yes" if ssh.permit_root_login else "no",
    }
    if extra_ports:  # only then: a stack without a migration keeps its step hash
        params["SSH_EXTRA_PORTS"] = " ".join(str(p) for p in extra_ports)
    return Step(
        name="harden_ssh",
        script="shared/hardening/harden_ssh.sh",
        description="sshd: key-only, strong kex/ciphers/MACs, validated with sshd -t before reload"
                    + (f"; also on port {extra_ports[0]} until the port migration ends" if extra_ports else ""),
        params=params,
        files=(
            RenderedFile(
                name="sshd_hardening.conf",
                dest="/etc/ssh/sshd_config.d/00-infrakit-hardening.conf",
                content=_tpl("hardening", "sshd_hardening.conf", ssh=ssh, port=config.access.ssh_port,
                             extra_ports=extra_ports, allow_users=allow_users),
            ),
        ),
    )


def _sysctl_order(item: tuple[str, int | str]) -> tuple[bool, str]:
    """Forwarding keys first: writing net.ipv4.ip_forward resets every net.ipv4.conf.* key to
    its host/router default (kernel ip-sysctl.rst), so it must precede them, both in the
    step and at boot (systemd-sysctl applies the file in order); then by name."""
    key = item[0]
    return (not (key == "net.ipv4.ip_forward" or key.endswith(".forwarding")), key)


def sysctl(config: StackConfig) -> Step | None:
    if not config.hardening.sysctl.enabled:
        return None
    settings = {**SYSCTL_DEFAULTS, **config.hardening.sysctl.overrides}
    return Step(
        name="sysctl",
        script="shared/hardening/sysctl.sh",
        description="kernel and network sysctls, persisted and applied; refused keys reported",
        files=(
            RenderedFile(
                name="sysctl.conf",
                dest=SYSCTL_FILE,
                content=_tpl("hardening", "sysctl.conf", settings=dict(sorted(settings.items(), key=_sysctl_order))),
            ),
        ),
    )


def os_hardening(config: StackConfig) -> Step:
    return Step(
        name="os_hardening",
        script="shared/hardening/os_hardening.sh",
        description="no on-demand USB/FireWire storage or rare protocols, no core dumps, umask 027, "
        "root-only files and private homes, legal banner",
        params={"UMASK": "027", "PASS_MAX_DAYS": "365", "PASS_MIN_DAYS": "1", "SHA_ROUNDS": "65536"},
        files=(
            RenderedFile(name="modprobe-hardening.conf", dest="/etc/modprobe.d/infrakit-hardening.conf",
                         content=_tpl("hardening", "modprobe-hardening.conf")),
            RenderedFile(name="limits-hardening.conf", dest="/etc/security/limits.d/infrakit-hardening.conf",
                         content=_tpl("hardening", "limits-hardening.conf")),
            RenderedFile(name="issue", dest="/etc/issue", content=_tpl("hardening", "issue")),
            RenderedFile(name="issue.net", dest="/etc/issue.net", content=_tpl("hardening", "issue")),
        ),
    )


def firewall_rules(config: StackConfig, ports: list[OpenPort]) -> list[dict[str, str]]:
    """One ufw line per (rule, source); a world-open rule becomes source `any`."""
    lines = []
    for rule in inbound_rules(config.access.ssh_ports, config.access.admin_cidrs, ports):
        sources = ("any",) if rule.sources == WORLD else rule.sources
        for source in sources:
            lines.append({"proto": rule.protocol, "port": str(rule.port), "source": source, "comment": rule.tag})
    return lines


SSH_RATELIMIT_FILE = "/etc/infrakit/ssh-ratelimit.nft"
SSH_RATELIMIT_UNIT = "infrakit-ssh-ratelimit.service"


def firewall_ufw(config: StackConfig, ports: list[OpenPort]) -> Step:
    ssh = config.hardening.ssh
    return Step(
        name="firewall_ufw",
        script="shared/hardening/firewall_ufw.sh",
        description="ufw: deny inbound by default, allow exactly the plan's rules, never drop admin SSH; "
        "new SSH connections rate-limited per client",
        params={
            "SSH_PORT": str(config.access.ssh_port),
            "ADMIN_CIDRS": " ".join(config.access.admin_cidrs),
            "SYSCTL_FILE": SYSCTL_FILE,
        },
        files=(
            RenderedFile(
                name="rules",
                dest="/etc/infrakit/firewall.rules",
                content=_tpl("hardening", "firewall.rules", rules=firewall_rules(config, ports)),
            ),
            RenderedFile(
                name="ssh-ratelimit.nft",
                dest=SSH_RATELIMIT_FILE,
                content=_tpl("hardening", "ssh-ratelimit.nft", ssh_ports=config.access.ssh_ports,
                             per_minute=ssh.new_connections_per_minute, burst=ssh.new_connections_burst),
            ),
            RenderedFile(
                name=SSH_RATELIMIT_UNIT,
                dest=f"/etc/systemd/system/{SSH_RATELIMIT_UNIT}",
                content=_tpl("hardening", SSH_RATELIMIT_UNIT, file=SSH_RATELIMIT_FILE),
            ),
        ),
    )


def fail2ban(config: StackConfig) -> Step | None:
    f2b = config.hardening.fail2ban
    if not f2b.enabled:
        return None
    return Step(
        name="fail2ban",
        script="shared/hardening/fail2ban.sh",
        description="fail2ban sshd jail (systemd backend, nftables bans), config tested before restart",
        files=(
            RenderedFile(
                name="jail.local",
                dest="/etc/fail2ban/jail.d/infrakit.local",
                content=_tpl("hardening", "jail.local", f2b=f2b,
                             ssh_port=",".join(str(p) for p in config.access.ssh_ports),
                             ignore=config.fail2ban_ignore),
            ),
        ),
    )


def time_sync(config: StackConfig) -> Step:
    servers = config.hardening.time_sync.servers
    return Step(
        name="time_sync",
        script="shared/provision/time_sync.sh",
        description="chrony enabled and running" + (f" with {len(servers)} configured servers" if servers else ""),
        files=(
            RenderedFile(
                name="infrakit.sources",
                dest="/etc/chrony/sources.d/infrakit.sources",
                content=_tpl("provision", "chrony.sources", servers=servers),
            ),
        ),
    )


def unattended_upgrades(config: StackConfig) -> Step:
    upgrades = config.hardening.upgrades
    return Step(
        name="unattended_upgrades",
        script="shared/hardening/unattended_upgrades.sh",
        description="unattended security upgrades" + ("" if upgrades.enabled else " (disabled by the stack)"),
        files=(
            RenderedFile(
                name="20auto-upgrades",
                dest="/etc/apt/apt.conf.d/20auto-upgrades",
                content=_tpl("hardening", "20auto-upgrades", upgrades=upgrades),
            ),
            RenderedFile(
                name="52infrakit-unattended-upgrades",
                dest="/etc/apt/apt.conf.d/52infrakit-unattended-upgrades",
                content=_tpl("hardening", "52infrakit-unattended-upgrades", upgrades=upgrades),
            ),
        ),
    )


def node_env(stack: Stack) -> Step:
    config = stack.config
    secrets = {"ALERT_WEBHOOK_URL": "alertWebhookUrl"} if "alertWebhookUrl" in stack.secrets else {}
    return Step(
        name="node_env",
        script="shared/services/install_env.sh",
        description="/etc/infrakit/node.env: who this node is (secrets from stdin, file 0600)",
        files=(
            RenderedFile(
                name="node.env",
                dest="/etc/infrakit/node.env",
                mode="0600",
                content=_tpl("services", "node.env", stack=stack.name, config=config),
            ),
        ),
        secrets=secrets,
    )


def base_steps(stack: Stack, ports: list[OpenPort], extra_packages: tuple[str, ...] = ()) -> list[Step]:
    config = stack.config
    steps = [
        base_packages(config, extra_packages),
        create_user(config),
        harden_ssh(config),
        sysctl(config),
        os_hardening(config),
        firewall_ufw(config, ports),
        fail2ban(config),
        time_sync(config),
        unattended_upgrades(config),
        node_env(stack),
    ]
    return [s for s in steps if s is not None]
