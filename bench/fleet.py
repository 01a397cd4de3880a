"""One program evaluation under Pulumi mocks for a fleet of N hosts, in this process.

Run as ``python -m bench.fleet N``: builds N stacks from the hardened-hcloud values (names
``fleet-0000``...), builds each plan and one ChainNode per stack in ONE Pulumi program
evaluation (as `tests/pulumi_mocks.py` evaluates `__main__.py`), and prints one JSON line:
wall seconds, peak RSS (ru_maxrss of this process), resources registered. The parent runs
each size in a fresh process so that the peak RSS is this fleet's own.
"""

from __future__ import annotations

import copy
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pulumi

STACK = "hardened-hcloud"
FAKE_IPV4 = "192.0.2.10"


class CountingMocks(pulumi.runtime.Mocks):
    """Like tests/pulumi_mocks.RecordingMocks, but keeps counts instead of every input."""

    def __init__(self) -> None:
        self.custom = 0
        self.components = 0
        self.by_type: dict[str, int] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.custom:
            self.custom += 1
        else:
            self.components += 1
        self.by_type[args.typ] = self.by_type.get(args.typ, 0) + 1
        outputs = dict(args.inputs)
        if args.typ == "hcloud:index/primaryIp:PrimaryIp":
            outputs["ipAddress"] = FAKE_IPV4
        return str(1000 + self.custom + self.components), outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def evaluate_fleet(n: int, bundle_cache: Path) -> dict[str, Any]:
    start = time.perf_counter()
    from adapters.registry import REGISTRY  # noqa: PLC0415 - import time is part of the evaluation
    from components import host_setup, tune_gc  # noqa: PLC0415
    from components.node import ChainNode  # noqa: PLC0415
    from infrakit.config import RawConfig, load, read_stack_file  # noqa: PLC0415
    from infrakit.plan import build_plan  # noqa: PLC0415

    host_setup.BUNDLE_CACHE = bundle_cache  # a cold cache per run, outside the repo
    tune_gc()  # as __main__.py does
    imported = time.perf_counter()
    mocks = CountingMocks()
    pulumi.runtime.set_mocks(mocks, project="infrakit", stack="fleet", preview=False)
    base = dict(read_stack_file(STACK).values)
    nodes: list[ChainNode] = []

    @pulumi.runtime.test
    def program() -> None:
        for i in range(n):
            stack = load(RawConfig(f"fleet-{i:04d}", copy.deepcopy(base)), REGISTRY)
            node = ChainNode(stack.name, stack, build_plan(stack))
            nodes.append(node)
            pulumi.export(f"{stack.name}-address", node.address)

    program()
    end = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
    return {
        "hosts": n,
        "seconds": end - start,
        "import_seconds": imported - start,
        "peak_rss_mb": peak_kib / 1024,
        "resources": mocks.custom + mocks.components,
        "custom_resources": mocks.custom,
        "components": mocks.components,
        "by_type": dict(sorted(mocks.by_type.items())),
    }


def main(argv: list[str]) -> int:
    n = int(argv[0])
    with tempfile.TemporaryDirectory(prefix="infrakit-bench-bundles-") as tmp:
        result = evaluate_fleet(n, Path(tmp))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
