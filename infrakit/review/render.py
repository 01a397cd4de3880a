"""Render every stack of an exported commit with that commit's own code.

Each stack is rendered by the tree's `infrakit render STACK --out DIR` (`python -m adapters`; trees
from before the chain seam: `python -m infrakit`) run in the exported tree,
so the scripts, templates and plan code are the commit's, not the reviewer's. A tree without
InfraKit's code (an operator's repository of stacks) is rendered by the installed InfraKit with
`--project`. No secret is needed: a render holds secret names, never values.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

RENDER_TIMEOUT = 120
# Variables that must not reach a render (secrets for `infrakit apply`, Pulumi's passphrase).
SECRET_ENV_PREFIXES = ("INFRAKIT_SECRET_", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN", "HCLOUD_TOKEN")


@dataclass(frozen=True)
class Rendered:
    """One stack at one commit: its render directory, or the error that prevented it."""

    stack: str
    out: Path | None
    error: str = ""
    host: str = ""


def stacks_dir(tree: Path) -> Path:
    """Pulumi's stackConfigDir of the project at `tree` (default: the project itself)."""
    try:
        doc = yaml.safe_load((tree / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return tree
    sub = doc.get("stackConfigDir") if isinstance(doc, dict) else None
    return tree / sub if isinstance(sub, str) and sub else tree


def list_stacks(tree: Path) -> list[str]:
    folder = stacks_dir(tree)
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in folder.glob("Pulumi.*.yaml"))


def stack_file(tree: Path, stack: str) -> Path:
    return stacks_dir(tree) / f"Pulumi.{stack}.yaml"


def describe_host(tree: Path, stack: str) -> str:
    """Where the stack's host is, from its stack file: an address or the cloud server it creates."""
    try:
        doc = yaml.safe_load(stack_file(tree, stack).read_text(encoding="utf-8")) or {}
        host = (doc.get("config") or {}).get("infrakit:host") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return "?"
    if not isinstance(host, dict):
        return "?"
    if host.get("target") == "existing":
        return f"existing host {host.get('address', '?')}"
    if host.get("target") == "hcloud":
        return f"hcloud server {stack} ({host.get('location', '?')}, {host.get('serverType', '?')})"
    return "?"


def stack_chain_role(tree: Path, stack: str) -> tuple[str, str]:
    """`infrakit:chain` and `infrakit:role` as the stack file says ("" if it cannot be read)."""
    try:
        doc = yaml.safe_load(stack_file(tree, stack).read_text(encoding="utf-8")) or {}
        config = doc.get("config") or {}
        chain, role = config.get("infrakit:chain", ""), config.get("infrakit:role", "")
    except (OSError, yaml.YAMLError, AttributeError):
        return "", ""
    return (chain if isinstance(chain, str) else "", role if isinstance(role, str) else "")


def secure_values(tree: Path) -> set[str]:
    """The `secure:` ciphertexts in the tree's stack files (kept out of any comment)."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "secure" and isinstance(value, str) and value:
                    found.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for stack in list_stacks(tree):
        try:
            walk(yaml.safe_load(stack_file(tree, stack).read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError):
            continue
    return found


def clean_env(tree: Path, own_code: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SECRET_ENV_PREFIXES)}
    env.pop("INFRAKIT_PROJECT", None)
    if own_code:
        env["PYTHONPATH"] = str(tree)
    else:
        env.pop("PYTHONPATH", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def render_stack(tree: Path, stack: str, out: Path, python: str = sys.executable) -> Rendered:
    own_code = (tree / "infrakit" / "cli.py").is_file()
    # The command is core's CLI with the chains registered in adapters/ (`python -m adapters`);
    # a commit from before the chain seam ran it as `python -m infrakit`.
    legacy = own_code and (tree / "infrakit" / "__main__.py").is_file()
    args = [python, "-m", "infrakit" if legacy else "adapters"]
    if not own_code:
        args += ["--project", str(tree)]
    args += ["render", stack, "--out", str(out)]
    host = describe_host(tree, stack)
    try:
        result = subprocess.run(
            args,
            cwd=tree,
            env=clean_env(tree, own_code),
            capture_output=True,
            text=True,
            timeout=RENDER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Rendered(stack, None, f"render timed out after {RENDER_TIMEOUT}s", host)
    if result.returncode != 0:
        lines = [ln for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        return Rendered(stack, None, "\n".join(lines[-8:]) or f"render exited {result.returncode}", host)
    return Rendered(stack, out, "", host)


def render_all(tree: Path, out_root: Path, stacks: list[str] | None = None) -> dict[str, Rendered]:
    names = stacks if stacks is not None else list_stacks(tree)
    present = set(list_stacks(tree))
    return {name: render_stack(tree, name, out_root / name) for name in names if name in present}
