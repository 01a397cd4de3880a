"""The hardened service unit every chain's daemons run under (infrakit/plan/units.py).

Tested once here for every chain: the sandbox is on by default, and no value can add a
directive (a newline, a quote or a systemd specifier in a flag would otherwise do it).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from infrakit.plan.units import ServiceUnit, command_line, environment_line, quote, render_service_unit

UNIT = ServiceUnit(
    ident="toy-node",
    description="Toy chain node: toyd (toynet)",
    user="toy",
    exec_start=["/opt/toy/current/toyd", "--datadir", "/var/lib/toy", "--rpc.addr", "127.0.0.1"],
    owner="adapters/toy",
    notes=("Operations: runbooks/toy.md.",),
    wants=["toy-signer.service"],
    groups=["toy-jwt"],
    environment={"TOY_HOME": "/opt/toy/current"},
    working_directory="/var/lib/toy",
    read_write=["/var/lib/toy"],
    x_fields={"Artifacts": "toyd 1.2.3 (sha256 abcd)"},
)
HARDENED = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ReadWritePaths=/var/lib/toy",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectControlGroups=yes",
    "RestrictNamespaces=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "MemoryDenyWriteExecute=yes",
    "CapabilityBoundingSet=\n",
    "AmbientCapabilities=\n",
    "SystemCallFilter=@system-service",
    "UMask=0077",
    "User=toy\n",
    "Group=toy\n",
    "Restart=on-failure",
)


def test_the_sandbox_is_on_by_default() -> None:
    text = render_service_unit(UNIT)
    for directive in HARDENED:
        assert directive in text, f"missing {directive!r}"
    assert text.startswith(
        "# Managed by InfraKit (adapters/toy): Toy chain node: toyd (toynet).\n# Operations: runbooks/toy.md.\n[Unit]\n"
    )
    assert "Wants=network-online.target toy-signer.service\n" in text
    assert "After=network-online.target toy-signer.service\n" in text
    assert "SupplementaryGroups=toy-jwt\n" in text and "Environment=TOY_HOME=/opt/toy/current\n" in text
    assert "X-InfraKit-Artifacts=toyd 1.2.3 (sha256 abcd)\n" in text
    assert "ExecStart=/opt/toy/current/toyd \\\n    --datadir /var/lib/toy \\\n    --rpc.addr 127.0.0.1\n" in text
    assert "SyslogIdentifier=toy-node\n" in text and "TimeoutStopSec=180\n" in text


def test_a_jit_runtime_only_loses_memory_deny_write_execute() -> None:
    plain, jit = render_service_unit(UNIT), render_service_unit(replace(UNIT, jit=True))
    assert "MemoryDenyWriteExecute=yes" not in jit
    assert [line for line in plain.splitlines() if line not in jit.splitlines()] == ["MemoryDenyWriteExecute=yes"]


def test_restart_policy_options() -> None:
    text = render_service_unit(
        replace(
            UNIT,
            no_start_limit=("why it retries",),
            restart_prevent=(1, 3),
            restart_prevent_why="found its keys elsewhere",
            start_timeout=900,
        )
    )
    assert "# why it retries\nStartLimitIntervalSec=0\n" in text
    assert "# found its keys elsewhere\nRestartPreventExitStatus=1 3\n" in text and "TimeoutStartSec=900\n" in text
    assert "RequiresMountsFor=/var/lib/toy\n" in text
    plain = render_service_unit(UNIT)
    assert "StartLimitIntervalSec" not in plain and "RestartPreventExitStatus" not in plain


def test_arguments_are_escaped_for_systemd() -> None:
    assert quote("--graffiti=a b") == '"--graffiti=a b"'
    assert quote("100%") == '"100%%"' and quote("$HOME") == '"$$HOME"' and quote("--x=1") == "--x=1"
    assert quote('say "hi"') == '"say \\"hi\\""'
    assert command_line(["/bin/x", "--flag", "v1", "v2", "-y"]) == "/bin/x \\\n    --flag v1 v2 \\\n    -y"
    assert environment_line("OPTS", "-Xmx4g -Xms1g") == '"OPTS=-Xmx4g -Xms1g"'
    assert environment_line("P", "50%") == '"P=50%%"'


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"description": "x\nExecStartPost=/bin/sh"}, "control character"),
        ({"exec_start": ["/bin/toyd", "--x\nUser=root"]}, "control character"),
        ({"exec_start": ["toyd"]}, "absolute path"),
        ({"environment": {"A": "b\nUser=root"}}, "control character"),
        ({"environment": {"A B": "c"}}, "not a shell variable name"),
        ({"notes": ("fine", "bad\n[Service]")}, "control character"),
        ({"user": "Root User"}, "not a system user name"),
        ({"groups": ["g;rm"]}, "not a group name"),
        ({"wants": ["x.service y"]}, "not a unit name"),
        ({"read_write": ["var/lib/toy"]}, "not a plain absolute path"),
        ({"read_write": ["/var/lib/../etc"]}, "not a plain absolute path"),
        ({"working_directory": "/var/lib/toy dir"}, "not a plain absolute path"),
        ({"ident": "toy/node"}, "unit ident"),
        ({"x_fields": {"bad key": "v"}}, "not a field name"),
        ({"stop_timeout": 0}, "not within"),
        ({"restart_prevent": (1,)}, "say why"),
        ({"restart_prevent": (300,), "restart_prevent_why": "keys live elsewhere"}, "1-255"),
        ({"no_start_limit": ("ok", "x\nStartLimitBurst=1")}, "control character"),
    ],
)
def test_a_value_that_could_add_a_directive_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_service_unit(replace(UNIT, **change))  # type: ignore[arg-type]


def _verify(path: Path) -> list[str]:
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    return [line for line in (result.stdout + result.stderr).splitlines() if path.name in line] + (
        [f"exit {result.returncode}"] if result.returncode else []
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_accepts_every_directive(tmp_path: Path) -> None:
    """systemd's own parser: no unknown directive, no bad value (the lab checks it on a real host too)."""
    path = tmp_path / UNIT.name
    text = render_service_unit(replace(UNIT, wants=[], exec_start=["/bin/true"], working_directory=None))
    path.write_text(text)
    assert _verify(path) == []
    path.write_text(text.replace("UMask=0077\n", "UMask=0077\nBogusKey=1\n"))
    assert any("BogusKey" in line for line in _verify(path)), "the check must be able to fail"
