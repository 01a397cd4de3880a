"""The real engine against `infrakit apply`, side by side on fresh lab hosts (part `engine`).

Per run, alternating so that machine load hits both alike: a cold `pulumi up` of the lab stack
on a fresh lab host, then `pulumi preview` and a no-op `pulumi up` of it, then a cold
`infrakit apply --bootstrap-user root` of the same stack on another fresh host. Both are timed
as the operator runs them: the whole CLI process, wall clock. The project copy, the ssh-agent
and the stack files come from the real-engine tests (tests/engine/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import summary

Say = Callable[[str], None]


def _fresh(name: str) -> Any:
    from infrakit_lab.host import LabHost  # noqa: PLC0415 - the lab only when this part runs

    stale = LabHost.get(name)
    if stale:
        stale.down()
    return LabHost.up(name)


def _timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
    return seconds, proc.stdout


def run_engine(runs: int, host: str, say: Say) -> dict[str, Any]:
    from tests.engine.conftest import ADMIN_KEY, EngineProject, copy_project, lab_values, start_agent  # noqa: PLC0415

    tmp = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    root = tmp / "project"
    copy_project(root)
    first = _fresh(host)
    keys = [Path(shutil.copy(first.ssh_key_path, tmp / "root")), Path(shutil.copy(ADMIN_KEY, tmp / "admin"))]
    agent_env, agent_pid = start_agent(keys)
    env = {**os.environ, **agent_env, "PULUMI_CONFIG_PASSPHRASE": "infrakit-lab-not-secret"}
    pulumi = str(root / "scripts" / "pulumi")
    rows: list[dict[str, Any]] = []
    try:
        for i in range(runs):
            stack = f"lab-bench{i}"
            lab = _fresh(host)
            project = EngineProject(root, agent_env, lab)
            project.write_stack(stack, lab_values(lab))
            _timed([pulumi, "stack", "init", stack, "--non-interactive"], root, env)
            cold_up, _ = _timed([pulumi, "up", "-s", stack, "--yes", "--skip-preview", "--non-interactive"], root, env)
            preview, _ = _timed([pulumi, "preview", "-s", stack, "--non-interactive"], root, env)
            noop_up, out = _timed(
                [pulumi, "up", "-s", stack, "--yes", "--skip-preview", "--non-interactive"], root, env
            )
            assert "unchanged" in out and "updated" not in out and "created" not in out, out[-1500:]
            lab = _fresh(host)
            known = tmp / f"known_hosts-{i}"
            cold_apply, _ = _timed(
                [
                    str(root / ".venv" / "bin" / "python"),
                    "-m",
                    "adapters",  # the infrakit CLI's module form
                    "apply",
                    stack,
                    "-i",
                    str(keys[1]),
                    "--known-hosts",
                    str(known),
                    "--bootstrap-user",
                    "root",
                    "--bootstrap-identity",
                    str(keys[0]),
                ],
                root,
                env,
            )
            row = {
                "cold_pulumi_up": cold_up,
                "cold_infrakit_apply": cold_apply,
                "preview": preview,
                "noop_pulumi_up": noop_up,
            }
            say(
                f"engine run {i + 1}: cold pulumi up {cold_up:.1f} s, cold infrakit apply {cold_apply:.1f} s, "
                f"preview {preview:.1f} s, no-op up {noop_up:.1f} s"
            )
            rows.append(row)
            _timed([pulumi, "stack", "rm", stack, "--yes", "--force", "--non-interactive"], root, env)
    finally:
        os.kill(agent_pid, signal.SIGTERM)
        from infrakit_lab.host import LabHost  # noqa: PLC0415

        left = LabHost.get(host)
        if left:
            left.down()
        shutil.rmtree(tmp, ignore_errors=True)
    result: dict[str, Any] = {"runs": rows}
    for key in ("cold_pulumi_up", "cold_infrakit_apply", "preview", "noop_pulumi_up"):
        result[key] = summary(r[key] for r in rows)
    ratio = [r["cold_pulumi_up"] / r["cold_infrakit_apply"] for r in rows]
    result["cold_ratio"] = summary(ratio)
    say(
        "engine (median of {}): cold pulumi up {:.1f} s vs cold infrakit apply {:.1f} s (ratio {:.2f}); "
        "preview {:.1f} s; no-op up {:.1f} s".format(
            runs,
            result["cold_pulumi_up"]["median"],
            result["cold_infrakit_apply"]["median"],
            result["cold_ratio"]["median"],
            result["preview"]["median"],
            result["noop_pulumi_up"]["median"],
        )
    )
    return result
