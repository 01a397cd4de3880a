"""`python -m bench`: run the InfraKit benchmarks, write bench/results.json and the table in
bench/README.md.

    .venv/bin/python -m bench                       # everything, 5 runs each (root; ~30 min)
    .venv/bin/python -m bench --only program,render # no lab host needed (no root)
    .venv/bin/python -m bench --runs 3 --only converge

Parts: converge (the hardened-host plan: cold converge on fresh lab hosts + no-op re-applies),
eth (the same for the Ethereum validator plan with test stand-ins), engine (the real Pulumi
engine: cold `pulumi up` against cold `infrakit apply`, `pulumi preview`, no-op `pulumi up`,
side by side on fresh lab hosts), program (Pulumi mocks,
fleets of --sizes hosts), render (every shipped stack). Results of parts not run are kept
from the previous results.json. The whole run is bounded by --max-minutes: past it, the
current measurement is interrupted, its lab host removed, and nothing is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import engine, lab, program, render, report
from bench.stats import step_summary, summary
from infrakit.plan.sources import PROJECT_ROOT

PARTS = ("converge", "eth", "engine", "program", "render")
LAB_PARTS = {"converge": "hardened", "eth": "ethereum_validator"}
HERE = Path(__file__).resolve().parent


def say(line: str) -> None:
    print(line, flush=True)


def _cmd(*argv: str) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10).stdout.rstrip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    os_release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    import pulumi  # noqa: PLC0415

    return {
        "nproc": int(_cmd("nproc") or os.cpu_count() or 0),
        "cpu": cpu,
        "mem_total_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "free_g": _cmd("free", "-g"),
        "os": os_release.get("PRETTY_NAME", "").strip('"'),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pulumi_sdk": pulumi.__version__ if hasattr(pulumi, "__version__") else _pip_version("pulumi"),
        "loadavg_start": list(os.getloadavg()),
    }


def _pip_version(name: str) -> str:
    from importlib.metadata import version  # noqa: PLC0415

    return version(name)


def git_state() -> dict[str, Any]:
    commit = _cmd("git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD")
    dirty = _cmd("git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(dirty)}


def lab_part(part: str, host: str, cold_runs: int, reapply_runs: int) -> dict[str, Any]:
    plan_name = LAB_PARTS[part]
    cold: list[dict[str, Any]] = []
    noop: list[dict[str, Any]] = []
    for record in lab.run_lab(plan_name, host, cold_runs, reapply_runs, say):
        (cold if record.pop("kind") == "cold" else noop).append(record)
    keys = (
        "total_seconds",
        "boot_seconds",
        "bootstrap_seconds",
        "apply_seconds",
        "ssh_sessions",
        "ssh_connections",
        "bytes_uploaded",
    )
    return {
        "plan": plan_name,
        "step_order": list(cold[0]["steps"]) if cold else [],
        "cold": {
            "runs": cold,
            **{k: summary(r[k] for r in cold) for k in keys},
            "steps": step_summary(cold),
        },
        "noop": {
            "runs": noop,
            "all_unchanged": all(not r["changed"] for r in noop),
            **{
                k: summary(r[k] for r in noop)
                for k in ("total_seconds", "upload_seconds", "ssh_sessions", "ssh_connections", "bytes_uploaded")
            },
            "steps": step_summary(noop),
        },
    }


class DeadlineError(Exception):
    pass


def _alarm(_signum: int, _frame: object) -> None:
    raise DeadlineError("the benchmark ran past --max-minutes")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts ({', '.join(PARTS)})")
    p.add_argument("--runs", type=int, default=5, help="repetitions of every measurement (default 5)")
    p.add_argument("--cold-runs", type=int, help="fresh lab hosts per lab part (default --runs)")
    p.add_argument("--reapply-runs", type=int, help="no-op re-applies per lab part (default --runs)")
    p.add_argument("--sizes", default="1,10,100,300", help="fleet sizes for the program part")
    p.add_argument("--host", default="bench1", help="lab host name for the hardened host")
    p.add_argument("--eth-host", default="bench2", help="lab host name for the Ethereum validator")
    p.add_argument("--engine-host", default="bench3", help="lab host name for the real-engine part")
    p.add_argument("--out", default=str(HERE / "results.json"))
    p.add_argument("--readme", default=str(HERE / "README.md"), help="README whose table to rewrite ('' = none)")
    p.add_argument("--max-minutes", type=float, default=90.0, help="stop (and clean up) after this long")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    parts = [p for p in args.only.split(",") if p]
    if unknown := set(parts) - set(PARTS):
        print(f"unknown part(s): {sorted(unknown)}; known: {', '.join(PARTS)}", file=sys.stderr)
        return 2
    if any(p in LAB_PARTS or p == "engine" for p in parts) and os.geteuid() != 0:
        print("the converge and eth parts boot lab hosts and need root (try --only program,render)", file=sys.stderr)
        return 2
    out = Path(args.out)
    results: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    run_info = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "git": git_state(),
        "runs": args.runs,
        "parts": parts,
    }
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(args.max_minutes * 60))
    start = time.monotonic()
    try:
        for part in parts:
            t0 = time.monotonic()
            if part in LAB_PARTS:
                host = args.host if part == "converge" else args.eth_host
                results[part] = lab_part(part, host, args.cold_runs or args.runs, args.reapply_runs or args.runs)
            elif part == "engine":
                results[part] = engine.run_engine(args.runs, args.engine_host, say)
            elif part == "program":
                results[part] = program.run_program([int(s) for s in args.sizes.split(",")], args.runs, say)
            else:
                results[part] = {"stacks": render.run_render(args.runs)}
                for stack, runs in results[part]["stacks"].items():
                    say(f"render {stack}: {summary(r['cli_seconds'] for r in runs)['median']:.2f} s")
            results[part]["run"] = {**run_info, "seconds": time.monotonic() - t0, "loadavg_end": list(os.getloadavg())}
    except DeadlineError as exc:
        print(f"bench: {exc}; nothing written", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
    results["last_run"] = {**run_info, "seconds": time.monotonic() - start}
    out.write_text(json.dumps(results, indent=2) + "\n")  # insertion order: steps stay in plan order
    say(f"wrote {out}")
    if args.readme:
        report.update_readme(Path(args.readme), results, HERE / "baseline.json")
        say(f"updated the table in {args.readme}")
    print(report.tables(results, report.load(HERE / "baseline.json")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
