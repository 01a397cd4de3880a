"""Every command in runbooks/ is one InfraKit ships or a standard tool, and each line is
classified: run here (no host), run on a lab host (tests/e2e/test_operator_cli.py), or not
run in the lab, with the reason. A new runbook line fails this test until it is classified.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infrakit.cli import build_parser
from infrakit.plan.sources import PROJECT_ROOT
from tests.runbooks.commands import RunbookLine, runbook_lines

# The standard tools the runbooks use, and where they come from.
STANDARD = {
    "pulumi": "Pulumi CLI", "git": "git", "ssh": "openssh-client", "scp": "openssh-client",
    "ssh-add": "openssh-client", "curl": "curl", "jq": "jq", "journalctl": "systemd", "systemctl": "systemd",
    "fail2ban-client": "fail2ban (installed by the plan)", "sha256sum": "coreutils", "shred": "coreutils",
    "rm": "coreutils", "cat": "coreutils", "grep": "grep", "python3": "python3", "bash": "bash", "sh": "dash",
}  # fmt: skip
# What InfraKit ships, as the runbooks call it -> the file in this repository.
SHIPPED = {
    ".venv/bin/infrakit": "infrakit/cli.py",
    "ik-eth-validator": "adapters/ethereum/host/ik-eth-validator",
    "/usr/local/lib/infrakit/monitoring/check_rpc.sh": "shared/monitoring/check_rpc.sh",
}
# Scripts a runbook line hands to a standard tool (bash, python3) -> the file in this repository.
SHIPPED_ARGS = {
    "/var/lib/infrakit/bundle/adapters/ethereum/scripts/smoke_test.sh": "adapters/ethereum/scripts/smoke_test.sh",
    "/usr/local/lib/infrakit/monitoring/status_server.py": "shared/monitoring/status_server.py",
}

# Run by this module, against the project's stacks (STACK = lab), no host needed.
HERE = {
    ".venv/bin/infrakit validate STACK",
    ".venv/bin/infrakit plan STACK",
    ".venv/bin/infrakit render STACK",
    ".venv/bin/infrakit validate eth-hoodi-validator",
    ".venv/bin/infrakit lock --check",
    ".venv/bin/infrakit validate aztec-dev",
    ".venv/bin/infrakit plan aztec-dev",
}
# Run on a converged lab host by tests/e2e/test_operator_cli.py (the `lab` stack, pointed at
# that host with --host/--admin-cidr; host-side lines through `infrakit ssh lab -- LINE`).
ON_LAB_HOST_LOCAL = {
    ".venv/bin/infrakit apply STACK --bootstrap-user root --bootstrap-identity ~/.ssh/root_key -i ~/.ssh/admin_key",
    ".venv/bin/infrakit apply STACK -i ~/.ssh/admin_key",
    ".venv/bin/infrakit status STACK -i ~/.ssh/admin_key",
    ".venv/bin/infrakit logs STACK status-server -n 50 -i ~/.ssh/admin_key",
    ".venv/bin/infrakit ssh STACK -i ~/.ssh/admin_key",
}
ON_LAB_HOST_REMOTE = {
    "sudo fail2ban-client status sshd",
    "sudo fail2ban-client set sshd unbanip 198.51.100.7",
    "sudo journalctl -u ssh -u fail2ban --since -1h",
    "sudo sh -c 'cat /var/lib/infrakit/state/*.hash'",
    "curl -s 127.0.0.1:9108/status | jq '.status, (.checks[] | [.name, .status, .summary])'",
    "curl -s 127.0.0.1:9108/metrics | grep -v '^#' | grep infrakit_check_state | grep ' 1$'",
    "sudo journalctl -u infrakit-probe --since -1h",
    "sudo -u infrakit-mon python3 /usr/local/lib/infrakit/monitoring/status_server.py check | jq .",
}
PULUMI = "needs the Pulumi engine with a cloud account or a real host (the engine's own tests cover `pulumi up`)"
ETH_NODE = "needs a running Ethereum node; the TEST stand-ins run in tests/e2e/test_ethereum.py, not this line"
OPERATOR = "runs on the operator's machine with their keys and repository, not on a host"
UPSTREAM = "downloads from the client's upstream release site (no network here)"
AZTEC_HOST = (
    "needs an Aztec host on Ubuntu 24.04 (the prover binary needs glibc 2.39); the lab's Debian 12 host "
    "converges the dev role in tests/e2e/test_aztec.py and the node's unit and firewall, not these lines"
)
NOT_IN_LAB = {
    "pulumi config set --secret hcloud:token": PULUMI,
    "pulumi up -s STACK": PULUMI,
    "pulumi stack output sshCommand -s STACK": PULUMI,
    "pulumi preview --refresh --diff -s STACK": PULUMI,
    "pulumi up --refresh -s STACK": PULUMI,
    "pulumi up -s eth-hoodi-validator": PULUMI,
    "pulumi up -s aztec-dev": PULUMI,
    "ssh-add ~/.ssh/root_key ~/.ssh/admin_key": OPERATOR,
    ".venv/bin/infrakit lock geth lighthouse mev-boost": UPSTREAM,
    ".venv/bin/infrakit lock geth": UPSTREAM,
    'git add adapters/ethereum/artifacts.lock.toml && git commit -m "lock clients"': OPERATOR,
    "git diff adapters/ethereum/artifacts.lock.toml": OPERATOR,
    ".venv/bin/infrakit plan eth-hoodi-validator": "run HERE would need locked artifacts; "
    "`validate` of the same stack runs here",
    ".venv/bin/infrakit apply eth-hoodi-validator --bootstrap-user root": ETH_NODE,
    "scp -r validator_keys/ ops@HOST:/home/ops/validator_keys": OPERATOR,
    "scp keystore-password.txt ops@HOST:/home/ops/": OPERATOR,
    "ssh ops@HOST": OPERATOR + " (`infrakit ssh STACK` runs on a lab host)",
    "shred -u /home/ops/keystore-password.txt && rm -r /home/ops/validator_keys": OPERATOR,
    "sha256sum /home/ops/slashing-protection.json": ETH_NODE,
}


def _not_in_lab(line: RunbookLine) -> str | None:
    if line.line in NOT_IN_LAB:
        return NOT_IN_LAB[line.line]
    if line.runbook == "ethereum.md" and line.line not in HERE:
        return ETH_NODE  # every host-side line of the Ethereum runbook needs the node
    if line.runbook == "aztec-dev.md" and line.line not in HERE:
        return OPERATOR if line.programs()[:1] == ["ssh"] else AZTEC_HOST
    if "CHECK_URL=http://127.0.0.1:8545" in line.line:
        return ETH_NODE + " (check_rpc.sh itself is tested in tests/shared/monitoring)"
    return None


LINES = runbook_lines()


def test_the_runbooks_have_command_lines() -> None:
    assert len(LINES) >= 40
    with_blocks = {line.runbook for line in LINES}
    assert with_blocks <= {p.name for p in (PROJECT_ROOT / "runbooks").glob("*.md")}
    # a runbook may give its commands inline only (monad.md); these three have ```sh blocks
    assert {"hardened-host.md", "ethereum.md", "monitoring-and-web.md"} <= with_blocks


@pytest.mark.parametrize("line", LINES, ids=lambda line: f"{line.runbook}:{line.line[:50]}")
def test_every_line_is_classified_once(line: RunbookLine) -> None:
    places = [line.line in HERE, line.line in ON_LAB_HOST_LOCAL, line.line in ON_LAB_HOST_REMOTE,
              _not_in_lab(line) is not None]  # fmt: skip
    assert places.count(True) == 1, f"{line.runbook}: classify `{line.line}` (run here, on a lab host, or why not)"


@pytest.mark.parametrize("line", LINES, ids=lambda line: f"{line.runbook}:{line.line[:50]}")
def test_every_program_is_shipped_or_standard(line: RunbookLine) -> None:
    for program in line.programs():
        if program in SHIPPED:
            assert (PROJECT_ROOT / SHIPPED[program]).is_file(), program
        else:
            assert program in STANDARD, f"{line.runbook}: `{program}` is neither shipped nor a standard tool"
    for argv in line.stages():
        for word in argv:
            if word.startswith(("/usr/local/lib/infrakit/", "/var/lib/infrakit/bundle/")) and word not in SHIPPED:
                assert word in SHIPPED_ARGS and (PROJECT_ROOT / SHIPPED_ARGS[word]).is_file(), word


@pytest.mark.parametrize("line", [x for x in LINES if x.programs()[:1] == [".venv/bin/infrakit"]],
                         ids=lambda line: line.line[:60])  # fmt: skip
def test_every_infrakit_line_parses(line: RunbookLine) -> None:
    """Subcommands and options that exist (the CLI changed under runbooks before)."""
    argv = shlex.split(line.line.replace("STACK", "lab"))[1:]
    build_parser().parse_args(argv)


@pytest.mark.parametrize("line", [x for x in LINES if x.programs()[:1] == ["ik-eth-validator"]],
                         ids=lambda line: line.line[:60])  # fmt: skip
def test_every_validator_tool_subcommand_exists(line: RunbookLine) -> None:
    words = [w for w in line.stages()[0] if w != "sudo"]
    tool = (PROJECT_ROOT / SHIPPED["ik-eth-validator"]).read_text()
    assert f"  {words[1]})" in tool or f"{words[1]})" in tool, f"ik-eth-validator has no `{words[1]}`"


@pytest.fixture
def own_project(tmp_path: Path) -> Path:
    """A copy of the project's stacks (so `render` writes out/ there, not into the checkout)."""
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path)
    shutil.copytree(PROJECT_ROOT / "stacks", tmp_path / "stacks")
    return tmp_path


@pytest.mark.parametrize("command", sorted(HERE))
def test_lines_run_here(command: str, own_project: Path) -> None:
    argv = [sys.executable, "-m", "adapters", *shlex.split(command.replace("STACK", "lab"))[1:]]
    result = subprocess.run(argv, cwd=own_project, capture_output=True, text=True, timeout=120, check=False)
    if command == ".venv/bin/infrakit lock --check":
        # the shipped lock file is unlocked on purpose (README): the check must say so, exit 1
        assert result.returncode == 1 and "UNLOCKED" in result.stdout + result.stderr, result.stderr
    else:
        assert result.returncode == 0, result.stdout + result.stderr
    if "render" in command:
        assert (own_project / "out" / "lab" / "plan.json").is_file()
