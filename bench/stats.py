"""Median and spread of repeated measurements; the linear fit of the fleet sizes."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any


def summary(values: Iterable[float]) -> dict[str, float | int]:
    data = sorted(values)
    if not data:
        return {"n": 0}
    return {"n": len(data), "median": statistics.median(data), "min": data[0], "max": data[-1]}


def step_summary(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | int]]:
    """Per step, over the runs: seconds (median, min, max), in plan order."""
    names: list[str] = []
    for run in runs:
        names += [n for n in run["steps"] if n not in names]
    return {name: summary(r["steps"][name]["seconds"] for r in runs if name in r["steps"]) for name in names}


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> dict[str, float]:
    """Least squares y = intercept + slope * x, and the largest relative deviation from it."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    intercept = my - slope * mx
    worst = max(abs(y - (intercept + slope * x)) / y for x, y in zip(xs, ys, strict=True) if y)
    return {"slope": slope, "intercept": intercept, "max_rel_residual": worst}
