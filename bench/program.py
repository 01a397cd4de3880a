"""Program evaluation under Pulumi mocks for fleets of N hosts, one fresh process per run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.stats import linear_fit, summary
from infrakit.plan.sources import PROJECT_ROOT

CHILD_TIMEOUT = 900.0


def one(n: int) -> dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.fleet", str(n)], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, check=False, timeout=CHILD_TIMEOUT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"bench.fleet {n} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "process_seconds": wall}


def run_program(sizes: Sequence[int], runs: int, say: Callable[[str], None]) -> dict[str, Any]:
    per_size: dict[str, Any] = {}
    for n in sizes:
        results = []
        for i in range(runs):
            results.append(one(n))
            say(f"program: {n} hosts run {i + 1}/{runs}: {results[-1]['seconds']:.2f} s, "
                f"{results[-1]['peak_rss_mb']:.0f} MB, {results[-1]['resources']} resources")
        per_size[str(n)] = {
            "runs": results,
            "seconds": summary(r["seconds"] for r in results),
            "process_seconds": summary(r["process_seconds"] for r in results),
            "peak_rss_mb": summary(r["peak_rss_mb"] for r in results),
            "resources": results[0]["resources"],
            "custom_resources": results[0]["custom_resources"],
            "components": results[0]["components"],
        }
    xs = [float(n) for n in sizes]
    fits = {}
    if len(sizes) >= 2:
        fits = {
            "seconds": linear_fit(xs, [per_size[str(n)]["seconds"]["median"] for n in sizes]),
            "peak_rss_mb": linear_fit(xs, [per_size[str(n)]["peak_rss_mb"]["median"] for n in sizes]),
            "resources": linear_fit(xs, [float(per_size[str(n)]["resources"]) for n in sizes]),
        }
    return {"sizes": per_size, "fit": fits}
