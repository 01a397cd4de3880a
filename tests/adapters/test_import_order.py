"""Every adapter module imports first, in a fresh interpreter, with nothing imported before it.

Why it matters: `python -c 'import adapters.monad'` used to fail with "cannot import name
'ADAPTER' from partially initialized module" (core imported the registry, which imported the
adapter being imported): a script, a test or a tool that imports one chain alone broke, and
the tests hid it by importing the registry first. An adapter depends on core only; core never
imports adapters/ (tests/infrakit/test_layering.py), so any import order must work. Each module
runs in its own interpreter because pytest has imported the registry already.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Every adapter and every top-level module of adapters/, and the test-only example adapter (an
# adapter as a third party writes one). A submodule needs no run of its own: `import
# adapters.monad.plan` executes adapters/monad/__init__.py first, the same sequence as `import
# adapters.monad`.
ADAPTERS = REPO / "adapters"
SOURCES = [*ADAPTERS.glob("*.py"), *ADAPTERS.glob("*/__init__.py"), REPO / "tests" / "adapters" / "example"]
MODULES = sorted(
    ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
    for path in SOURCES
    if path.name != "__main__.py"
)


def import_alone(module: str) -> tuple[str, int, str]:
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return module, proc.returncode, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""


def test_every_adapter_is_found() -> None:
    expected = ("adapters.ethereum", "adapters.monad", "adapters.none", "adapters.registry", "tests.adapters.example")
    assert set(expected) <= set(MODULES), MODULES


def test_each_adapter_imports_first_in_a_fresh_interpreter() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(import_alone, MODULES))
    failed = [f"import {module}: {error}" for module, code, error in results if code != 0]
    assert not failed, "\n".join(failed)
