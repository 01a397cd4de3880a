"""--engine-preview's reading of `pulumi preview --json`, with a stand-in scripts/pulumi (the real
engine is exercised in tests/engine/test_preview_comment_engine.py)."""

from __future__ import annotations

import json
from pathlib import Path

from infrakit.review.engine import EnginePreview, agreement, engine_preview

SECRET = "v3ry-s3cret-passphrase"


def _fake_pulumi(root: Path, doc: object, code: int = 0, stderr: str = "") -> Path:
    (root / "scripts").mkdir(parents=True)
    script = root / "scripts" / "pulumi"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(doc)}\nEOF\necho '{stderr}' >&2\nexit {code}\n")
    script.chmod(0o755)
    return root


def test_only_names_and_operations_are_kept(tmp_path: Path) -> None:
    doc = {
        "steps": [
            {"op": "same", "urn": "urn:pulumi:lab::infrakit::pulumi:pulumi:Stack::infrakit-lab"},
            {
                "op": "update",
                "urn": "urn:pulumi:lab::infrakit::x$pulumi-python:dynamic:Resource::node-setup-harden_ssh",
                "newState": {"inputs": {"privateKey": SECRET}},
            },
            {"op": "update", "urn": "urn:pulumi:lab::infrakit::x::node-setup-bundle"},
        ]
    }
    found = engine_preview(_fake_pulumi(tmp_path, doc), "lab")
    assert found == EnginePreview({"node-setup-harden_ssh": "update", "node-setup-bundle": "update"}, "")
    assert SECRET not in repr(found)
    assert agreement({"harden_ssh"}, True, found) == "agrees with the render diff"
    assert agreement({"harden_ssh", "sysctl"}, True, found).startswith("DIFFERS")
    assert agreement({"harden_ssh"}, False, found).startswith("DIFFERS")
    fresh = EnginePreview({"node-setup-host": "create", "node-setup-harden_ssh": "create"})
    assert agreement({"harden_ssh"}, True, fresh).startswith("the stack is not deployed")


def test_a_failed_preview_is_reported_without_its_output(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "scripts").mkdir(parents=True)
    script = root / "scripts" / "pulumi"
    script.write_text(
        f"#!/bin/sh\necho 'error: decrypting secret {SECRET}' >&2\necho 'error: no stack' >&2\nexit 255\n"
    )
    script.chmod(0o755)
    found = engine_preview(root, "lab")
    assert found.changes == {} and "pulumi preview failed" in found.error and SECRET not in found.error
    assert "does not exist" in engine_preview(tmp_path / "nowhere", "lab").error
