"""The hardened-host plan (`chain: none`) on a real Debian 12 lab host, checked as it is."""

from __future__ import annotations

import contextlib
import re
import socket
import time

import paramiko
import pytest
import testinfra

from infrakit.config.models import SshHardening
from infrakit.config.values import STRONG_CIPHERS, STRONG_MACS
from infrakit.plan.base import SYSCTL_DEFAULTS
from tests.e2e.conftest import ADMIN_KEY, ATTACKER, OUTSIDER, PROBE, Lab, side_address

pytestmark = pytest.mark.lab


def ssh_login(address: str, user: str, key: str | None = None, password: str | None = None,
              source: str | None = None) -> None:
    sock = socket.create_connection((address, 22), timeout=10, source_address=(source, 0) if source else None)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - throwaway lab host
    try:
        client.connect(address, username=user, key_filename=key, password=password, allow_agent=False,
                       look_for_keys=False, timeout=10, banner_timeout=10, auth_timeout=10, sock=sock)
        client.exec_command("true")
    finally:
        client.close()
        sock.close()


def test_admin_logs_in_with_its_key(lab: Lab) -> None:
    ssh_login(lab.host.address, "ops", key=str(ADMIN_KEY))


def test_root_login_with_a_valid_key_is_refused(lab: Lab) -> None:
    """Root's key still works on the bootstrap host; after hardening sshd must refuse it."""
    with pytest.raises(paramiko.AuthenticationException):
        ssh_login(lab.host.address, "root", key=str(lab.host.ssh_key_path), source=side_address(lab.host, PROBE))


def test_password_login_is_refused(lab: Lab) -> None:
    """Give ops a real password; sshd must still not accept it."""
    lab.guest("sh", "-c", "echo 'ops:Corr3ct-Horse-Battery' | chpasswd")
    try:
        with pytest.raises(paramiko.AuthenticationException):
            ssh_login(lab.host.address, "ops", password="Corr3ct-Horse-Battery", source=side_address(lab.host, PROBE))
    finally:
        lab.guest("usermod", "-p", "*", "ops")


def test_sshd_effective_settings(infra: testinfra.host.Host) -> None:
    effective = dict(
        line.split(" ", 1) for line in infra.check_output("sshd -T").splitlines() if " " in line
    )
    assert effective["permitrootlogin"] == "no"
    assert effective["passwordauthentication"] == "no"
    assert effective["kbdinteractiveauthentication"] == "no"
    assert effective["maxauthtries"] == "2"
    assert effective["x11forwarding"] == "no"
    assert effective["allowtcpforwarding"] == "no"
    assert effective["authenticationmethods"] == "publickey"
    assert effective["ciphers"].split(",") == list(STRONG_CIPHERS)
    assert effective["kexalgorithms"].split(",") == SshHardening().kex
    assert effective["macs"].split(",") == list(STRONG_MACS)


def _can_connect(address: str, port: int, source: str | None = None, timeout: float = 3.0) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        if source:
            sock.bind((source, 0))
        try:
            sock.connect((address, port))
        except OSError:
            return False
        return True


def test_firewall_default_deny_and_only_admin_ssh(lab: Lab, infra: testinfra.host.Host) -> None:
    """A listening service that the plan did not open must be unreachable from outside."""
    status = infra.check_output("ufw status verbose")
    assert "Status: active" in status
    assert "deny (incoming)" in status and "allow (outgoing)" in status
    proc = lab.guest("sh", "-c", "setsid python3 -m http.server 8080 --bind 0.0.0.0 >/dev/null 2>&1 & echo $!")
    try:
        assert lab.guest("sh", "-c", "for i in $(seq 50); do ss -ltn | grep -q ':8080 ' && exit 0; sleep 0.1; "
                                     "done; exit 1", check=False).returncode == 0, "test listener did not start"
        assert _can_connect(lab.host.address, 22), "admin SSH must be reachable from the admin address"
        assert not _can_connect(lab.host.address, 8080), "port 8080 listens but must be blocked by the firewall"
    finally:
        lab.guest("kill", proc.stdout.strip(), check=False)


def test_ssh_from_outside_the_admin_cidrs_is_dropped(lab: Lab) -> None:
    """The same SSH port, from a lab address that is not in adminCidrs, must not answer."""
    assert _can_connect(lab.host.address, 22, source=side_address(lab.host, PROBE)), "control: an admin address"
    assert not _can_connect(lab.host.address, 22, source=side_address(lab.host, OUTSIDER))


def test_sysctl_reports_exactly_what_the_container_refused(lab: Lab) -> None:
    """Never claim a key applied that the kernel refused; name each refused key."""
    refused: dict[str, str] = {}
    for line in lab.logs["first"]:
        if match := re.search(r"infrakit: sysctl refused=(\S+) reason=(\S+)", line):
            refused.update(dict.fromkeys(match[1].split(","), match[2]))
    assert refused, "a container refuses some kernel keys; the step must say which"
    assert set(refused) <= set(SYSCTL_DEFAULTS)
    for key, reason in refused.items():
        path = "/proc/sys/" + key.replace(".", "/")
        exists = lab.guest("test", "-e", path, check=False).returncode == 0
        if reason == "missing":
            assert not exists, f"{key} reported missing but {path} exists"
            continue
        # `test -w` asks the kernel (read-only mount -> EROFS) without writing anything.
        writable = lab.guest("test", "-w", path, check=False).returncode == 0
        assert not writable, f"{key} reported refused but the container can write it"
    for key in SYSCTL_DEFAULTS:
        if key.startswith("net.") and key not in refused:
            value = lab.guest("sysctl", "-n", key).stdout.split()
            assert value == str(SYSCTL_DEFAULTS[key]).split(), f"{key} not applied"


def test_fail2ban_bans_a_brute_forcing_address(lab: Lab, infra: testinfra.host.Host) -> None:
    """Repeated refused logins from one admin address get it banned; the others keep working."""
    assert infra.service("fail2ban").is_running
    attacker = side_address(lab.host, ATTACKER)
    max_retry = lab.stack.config.hardening.fail2ban.max_retry
    try:
        for _ in range(max_retry + 1):
            with contextlib.suppress(paramiko.AuthenticationException, paramiko.SSHException, OSError):
                ssh_login(lab.host.address, "root", key=str(lab.host.ssh_key_path), source=attacker)
        deadline = time.monotonic() + 20
        while attacker not in infra.check_output("fail2ban-client status sshd") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert attacker in infra.check_output("fail2ban-client status sshd"), "attacker not banned"
        assert not _can_connect(lab.host.address, 22, source=attacker), "a banned address must not reach sshd"
        ssh_login(lab.host.address, "ops", key=str(ADMIN_KEY))
    finally:
        infra.run(f"fail2ban-client set sshd unbanip {attacker}")


def test_chrony_is_enabled(infra: testinfra.host.Host) -> None:
    assert infra.service("chrony").is_enabled


def test_unattended_upgrades_configured(infra: testinfra.host.Host) -> None:
    dump = infra.check_output("apt-config dump")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in dump
    assert infra.package("unattended-upgrades").is_installed
    assert infra.check_output("systemctl is-enabled apt-daily-upgrade.timer") == "enabled"


def test_node_env_is_private(infra: testinfra.host.Host) -> None:
    env = infra.file("/etc/infrakit/node.env")
    assert env.mode == 0o600 and env.user == "root"
    assert "INFRAKIT_STACK=lab-e2e" in env.content_string


def test_second_apply_changes_nothing(converged: Lab) -> None:
    """Idempotence: every step reports changed=0 and /etc is byte-identical."""
    report = converged.reports["second"]
    assert report.ok
    assert [(s.name, s.changed) for s in report.steps] == [(s.name, False) for s in report.steps]
    before, after = converged.etc_before, converged.etc_after  # type: ignore[attr-defined]
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert changed == [], f"files under /etc changed on a no-op apply: {changed}"
