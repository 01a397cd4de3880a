"""Shared fixtures: stack config dictionaries with overrides, loaded stacks and plans."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.registry import REGISTRY
from infrakit.config import RawConfig, Stack, load, read_stack_file

StackFactory = Callable[..., dict[str, Any]]


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@pytest.fixture
def stack_values() -> StackFactory:
    """The hardened-hcloud stack's values with deep overrides (None deletes a key)."""
    base = dict(read_stack_file("hardened-hcloud").values)

    def make(**overrides: Any) -> dict[str, Any]:
        return _merge(base, overrides)

    return make


def load_values(values: dict[str, Any], stack: str = "test", secure: frozenset[str] = frozenset()) -> Stack:
    return load(RawConfig(stack, values, secure), REGISTRY)


def gpg_agents_under(root: Path) -> list[tuple[int, Path]]:
    """gpg-agent daemons whose --homedir is under `root`: (pid, homedir)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if argv and Path(argv[0]).name == "gpg-agent" and "--homedir" in argv[:-1]:
            home = Path(argv[argv.index("--homedir") + 1])
            if home == root or root in home.parents:
                found.append((int(proc.name), home))
    return found


@pytest.fixture(scope="session", autouse=True)
def _stop_test_gpg_agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """gpg starts a gpg-agent daemon per GNUPGHOME and leaves it running: stop the ones this
    session's keyrings (all under its basetemp) started, so a test run leaves no daemon behind."""
    yield
    base = tmp_path_factory.getbasetemp().resolve()
    for _pid, home in gpg_agents_under(base):
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, timeout=30,
                       check=False)  # fmt: skip
