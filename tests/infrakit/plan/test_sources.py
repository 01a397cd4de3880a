"""A step's hash covers exactly the shell files it runs: its script, the runner, and the library
modules either of them sources (infrakit/plan/sources.py).

Why it matters: every changed step hash is a replaced Pulumi resource and a re-run on every
host. When the whole library was hashed into every step, one comment replaced every step of
every host; a hash that misses a sourced file is worse: a real change would never reach hosts.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import pytest

from adapters.registry import REGISTRY
from infrakit.config import load_stack
from infrakit.plan import HostPlan, build_plan, sources
from infrakit.plan.sources import PROJECT_ROOT, RUNNER, bundle_sources, sourced_files

SCRIPTS = [s for s in bundle_sources() if s.endswith(".sh")]
LIB = "shared/lib"
MODULES = sorted(s for s in SCRIPTS if s.startswith(f"{LIB}/") and s != RUNNER)
CORE = f"{LIB}/core.sh"
DEFINES = re.compile(r"^(ik_[a-z_]+)\(\)", re.M)
CALLS = re.compile(r"\b(ik_[a-z][a-z_]*|ik__[a-z_]+)\b")
# The stacks whose plans the edit test checks: the hardened host and the Ethereum validator.
STACKS = ("lab", "eth-hoodi-validator")


def _text(relative: str) -> str:
    return (PROJECT_ROOT / relative).read_text(encoding="utf-8")


def _code(relative: str) -> str:
    """The script without comment lines and plain string literals (messages name functions too);
    a double-quoted string with a command substitution stays: `"$(ik_file x)"` is a call."""
    lines = [line for line in _text(relative).splitlines() if not line.lstrip().startswith("#")]
    literal = re.compile(r"'[^'\n]*'|\"(?:[^\"\\\n]|\\.)*\"")
    return literal.sub(lambda m: m[0] if "$(" in m[0] else "''", "\n".join(lines))


def _defined_in() -> dict[str, str]:
    where: dict[str, str] = {}
    for module in MODULES:
        for name in DEFINES.findall(_text(module)):
            assert name not in where, f"{name} is defined in {where[name]} and {module}"
            where[name] = module
    return where


def test_the_library_is_split_into_modules() -> None:
    assert {f"{LIB}/{m}.sh" for m in ("core", "files", "apt", "download", "systemd", "params", "versions")} <= set(
        MODULES
    )
    assert not (PROJECT_ROOT / LIB / "common.sh").exists()


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_function_a_script_calls_comes_from_a_file_it_sources(script: str) -> None:
    """Else the step dies with `command not found` on a host, and its hash missed a file."""
    where = _defined_in()
    own = set(DEFINES.findall(_text(script)))
    reachable = set(sourced_files(script))
    missing = {
        f"{name} ({where[name]})"
        for name in CALLS.findall(_code(script))
        if name in where and name not in own and where[name] not in reachable
    }
    assert not missing, f"{script} calls functions of modules it does not source: {sorted(missing)}"


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_script_sources_no_module_it_does_not_use(script: str) -> None:
    """A module sourced for nothing would put its edits into this step's hash for nothing."""
    where = _defined_in()
    called = set(CALLS.findall(_code(script)))
    direct = set(sources._sources_of(script))
    unused = {m for m in direct - {CORE} if not {n for n, mod in where.items() if mod == m} & called}
    assert not unused, f"{script} sources modules it never calls: {sorted(unused)}"


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_shellcheck_directive_names_the_file_that_is_sourced(script: str) -> None:
    """shellcheck follows the directive: one naming another file would lint the wrong code."""
    lines = _text(script).splitlines()
    targets = iter(sources._sources_of(script))
    for i, line in enumerate(lines):
        if re.match(r"^\s*(source|\.)\s", line):
            directive = re.fullmatch(r"\s*# shellcheck source-path=SCRIPTDIR source=(\S+)", lines[i - 1])
            assert directive, f"{script} line {i + 1}: no `# shellcheck source-path=SCRIPTDIR source=...` above"
            named = posixpath.normpath(posixpath.join(posixpath.dirname(script), directive[1]))
            assert named == next(targets), f"{script} line {i + 1}: the directive names {named}"


@pytest.mark.parametrize(
    "line",
    [
        'source "/etc/profile.d/x.sh"',
        'source "${HOME}/lib.sh"',
        '. "$(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh"x',
        'source $(dirname -- "${BASH_SOURCE[0]}")/../lib/core.sh',
        'source "${IK_LIB}/$MODULE.sh"',
    ],
)
def test_a_source_line_the_hash_cannot_follow_is_refused(
    line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused, not skipped: a sourced file the hash cannot name would be a change that never deploys."""
    script = tmp_path / "odd.sh"
    script.write_text(f"#!/usr/bin/env bash\n{line}\n")
    real = sources.source_path
    monkeypatch.setattr(sources, "source_path", lambda rel: script if rel == "shared/x/odd.sh" else real(rel))
    sources.source_bytes.cache_clear()
    try:
        with pytest.raises(ValueError, match="line 2: cannot tell what"):
            sources._sources_of("shared/x/odd.sh")
    finally:
        sources.source_bytes.cache_clear()


# -- a one-line edit of one module ------------------------------------------------------------


def _hashes(stack: str) -> dict[str, str]:
    return {p.step.name: p.hash for p in build_plan(load_stack(stack, REGISTRY)).steps}


def _clear() -> None:
    for cached in (sources.source_bytes, sources._file_digest, sources.sourced_files):
        cached.cache_clear()


def _edited_hashes(stack: str, module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    copy = tmp_path / posixpath.basename(module)
    copy.write_bytes((PROJECT_ROOT / module).read_bytes() + b"# a one-line edit\n")
    real = sources.source_path
    with monkeypatch.context() as patch:
        patch.setattr(sources, "source_path", lambda rel: copy if rel == module else real(rel))
        _clear()
        try:
            return _hashes(stack)
        finally:
            _clear()


def _expected(plan: HostPlan, module: str) -> set[str]:
    """Steps that run the module (script or runner sources it, or it ships as one of the step's
    files), and the steps that `require` one of those: hashes chain on purpose, so a service
    restarts when what it runs was re-installed."""
    content = _text(module)
    runner = set(sourced_files(RUNNER))
    hit: set[str] = set()
    for planned in plan.steps:
        step = planned.step
        uses = module in runner or module in sourced_files(step.script) or any(f.content == content for f in step.files)
        if uses or hit & set(step.requires):
            hit.add(step.name)
    return hit


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("module", [*MODULES, RUNNER])
def test_a_one_line_module_edit_changes_only_the_steps_that_use_it(
    stack: str, module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear()
    plan = build_plan(load_stack(stack, REGISTRY))
    before = {p.step.name: p.hash for p in plan.steps}
    after = _edited_hashes(stack, module, tmp_path, monkeypatch)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == _expected(plan, module)


@pytest.mark.parametrize(
    ("stack", "module", "untouched"),
    [
        # the hardened host downloads nothing: a download.sh edit changes none of its steps
        ("lab", f"{LIB}/download.sh", "all"),
        ("lab", f"{LIB}/systemd.sh", {"base_packages", "create_user", "sysctl", "node_env", "monitoring"}),
        ("lab", f"{LIB}/apt.sh", {"create_user", "harden_ssh", "sysctl", "firewall_ufw", "time_sync", "node_env"}),
        (
            "eth-hoodi-validator",
            f"{LIB}/download.sh",
            {
                "base_packages",
                "create_user",
                "harden_ssh",
                "sysctl",
                "firewall_ufw",
                "fail2ban",
                "eth_prepare",
                "monitoring",
            },
        ),
        ("eth-hoodi-validator", f"{LIB}/systemd.sh", {"base_packages", "create_user", "sysctl", "eth_prepare"}),
    ],
)
def test_what_a_module_edit_leaves_alone(
    stack: str, module: str, untouched: set[str] | str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Named steps, so the expectation does not come from the code under test."""
    _clear()
    before = _hashes(stack)
    after = _edited_hashes(stack, module, tmp_path, monkeypatch)
    names = set(before) if untouched == "all" else untouched
    assert names <= set(before)
    assert {n for n in names if before[n] != after[n]} == set()
    if untouched != "all":
        assert before != after, f"a {module} edit should change some step of {stack}"


@pytest.mark.parametrize("stack", STACKS)
def test_a_core_edit_still_changes_every_step(stack: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """core.sh is sourced by every script and the runner: leaving any step out would be the bug."""
    _clear()
    before = _hashes(stack)
    after = _edited_hashes(stack, CORE, tmp_path, monkeypatch)
    assert all(before[n] != after[n] for n in before)
