"""`infrakit render` for every shipped stack: the command as a user runs it, and in-process."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.registry import REGISTRY
from infrakit.config import list_stacks, load_stack
from infrakit.plan import build_plan
from infrakit.plan.bundle import bundle_entries, sha256, tarball, write_tree
from infrakit.plan.sources import PROJECT_ROOT

CLI_TIMEOUT = 120.0


def cli_seconds(stack: str, out: Path) -> float:
    """Wall time of `infrakit render STACK --out OUT` in a fresh interpreter (imports included)."""
    argv = [str(Path(sys.executable).parent / "infrakit"), "render", stack, "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(argv, cwd=PROJECT_ROOT, check=True, capture_output=True, timeout=CLI_TIMEOUT)
    return time.perf_counter() - start


def in_process(stack: str, out: Path) -> dict[str, float | int]:
    """What render does after the imports: load+plan, then the bundle tree and its digest."""
    start = time.perf_counter()
    plan = build_plan(load_stack(stack, REGISTRY))
    planned = time.perf_counter()
    entries = bundle_entries(plan)
    write_tree(entries, out)
    digest = sha256(tarball(entries))
    end = time.perf_counter()
    assert digest
    return {"plan_seconds": planned - start, "write_seconds": end - planned, "seconds": end - start,
            "steps": len(plan.steps), "files": len(entries)}


def run_render(runs: int) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="infrakit-bench-render-") as tmp:
        for stack in list_stacks():
            results[stack] = []
            for i in range(runs):
                inproc = in_process(stack, Path(tmp) / f"{stack}-inproc-{i}")
                results[stack].append({"cli_seconds": cli_seconds(stack, Path(tmp) / f"{stack}-cli-{i}"), **inproc})
    return results
