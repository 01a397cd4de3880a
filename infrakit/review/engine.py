"""The engine's own preview of a stack, to set beside the render diff.

`scripts/pulumi preview -s STACK --json` in the checkout (the program and state as they are)
lists the resources the engine would change. Only resource names and operations are kept: the
preview's other output (and any secret in it) never reaches the comment.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from infrakit.resource_names import setup_resource

PREVIEW_TIMEOUT = 900
UNCHANGED = {"same", "read"}


@dataclass
class EnginePreview:
    changes: dict[str, str] = field(default_factory=dict)  # resource name -> create/update/replace/delete...
    error: str = ""


def engine_preview(repo: Path, stack: str) -> EnginePreview:
    pulumi = repo / "scripts" / "pulumi"
    if not pulumi.is_file():
        return EnginePreview(error=f"{pulumi} does not exist (the engine preview needs the project's scripts/pulumi)")
    try:
        proc = subprocess.run(
            [str(pulumi), "preview", "-s", stack, "--json", "--non-interactive"],
            cwd=repo,
            env={**os.environ, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=PREVIEW_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return EnginePreview(error=f"pulumi preview timed out after {PREVIEW_TIMEOUT}s")
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "secret" not in ln.lower()]
        return EnginePreview(error="pulumi preview failed: " + (" / ".join(lines[-3:]) or f"exit {proc.returncode}"))
    changes = {
        str(step.get("urn", "")).rsplit("::", 1)[-1]: str(step.get("op", ""))
        for step in doc.get("steps") or []
        if isinstance(step, dict) and step.get("op") not in UNCHANGED
    }
    error = "" if proc.returncode == 0 else f"pulumi preview exited {proc.returncode} (policy or program error)"
    return EnginePreview(changes, error)


def agreement(rerun: set[str], files_changed: bool, preview: EnginePreview) -> str:
    """Whether the engine updates exactly the Step resources the render diff names (and the bundle)."""
    if preview.changes.get(setup_resource("host")) == "create":
        return f"the stack is not deployed in this state yet: the engine creates all {len(preview.changes)} resources"
    steps = {
        name.removeprefix(setup_resource(""))
        for name, op in preview.changes.items()
        if name.startswith(setup_resource("")) and op == "update"
    } - {"bundle", "host"}
    bundle = preview.changes.get(setup_resource("bundle")) == "update"
    if steps == rerun and bundle == files_changed:
        return "agrees with the render diff"
    return (
        f"DIFFERS from the render diff: engine re-runs {sorted(steps) or 'no step'}"
        f"{' and the bundle' if bundle else ''}, render names {sorted(rerun) or 'no step'}"
    )
