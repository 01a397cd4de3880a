"""Core (infrakit/) depends on nothing above it: never on adapters/, components/, the lab.

Why it matters: the next chain must be a folder under adapters/, not a patch to core. One
import of adapters from core (even inside a function, to dodge a cycle) brings back the
coupling that made adding a chain mean editing core.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "infrakit"
FORBIDDEN = ("adapters", "components", "infrakit_lab", "__main__")
MODULES = sorted(CORE.rglob("*.py"))


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module the code imports, wherever the import statement sits, and string
    arguments of importlib.import_module / __import__."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in {"import_module", "__import__"} and node.args and isinstance(node.args[0], ast.Constant):
                found.append((node.lineno, str(node.args[0].value)))
    return found


def test_core_has_modules() -> None:
    assert len(MODULES) > 20


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(CORE.parent).as_posix())
def test_core_never_imports_what_builds_on_it(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [f"line {line}: {name}" for line, name in imported_modules(tree) if name.split(".")[0] in FORBIDDEN]
    assert not bad, f"{path.relative_to(CORE.parent)} imports {bad}"


@pytest.mark.parametrize(
    "source",
    [
        "import adapters.registry",
        "from adapters import registry",
        "def f():\n    from adapters.ethereum import ADAPTER\n",
        "class C:\n    def m(self):\n        import components.node\n",
        "import importlib\nimportlib.import_module('adapters.registry')\n",
        "__import__('infrakit_lab.host')\n",
        "if TYPE_CHECKING:\n    from adapters.ethereum.settings import EthereumSettings\n",
    ],
)
def test_the_walk_finds_every_kind_of_import(source: str) -> None:
    """The check above must not miss a function-level, type-only or dynamic import."""
    names = [name for _, name in imported_modules(ast.parse(source))]
    assert any(name.split(".")[0] in FORBIDDEN for name in names), source
