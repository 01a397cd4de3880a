"""Broken stack files: each kind gets its own clear message naming the file, never a traceback
and never a silent "last one wins"."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters import registry
from infrakit import project
from infrakit.config import ConfigError, read_stack_file

GOOD = "config:\n  infrakit:chain: none\n  infrakit:role: host\n"

CASES: list[tuple[str, bytes, str]] = [
    ("not UTF-8", b"config:\n  infrakit:chain: n\xe9ne\n", "not UTF-8 text"),
    ("UTF-16", "config: {}\n".encode("utf-16"), "not UTF-8 text"),
    ("empty", b"", "the file is empty"),
    ("only a comment", b"# nothing here\n", "the file is empty"),
    ("duplicated key", (GOOD + "  infrakit:chain: ethereum\n").encode(), "'infrakit:chain' appears twice"),
    (
        "duplicated nested key",
        (GOOD + "  infrakit:access:\n    sshPort: 22\n    sshPort: 2222\n").encode(),
        "'sshPort' appears twice",
    ),
    ("no config key", b"infrakit:chain: none\n", "no 'config:' key"),
    ("config is a list", b"config:\n  - infrakit:chain\n", "'config:' must be a mapping"),
    ("top level is a list", b"- config\n", "expected a mapping with a 'config:' key"),
    ("not YAML", b"config: [\n", "not valid YAML"),
]


@pytest.mark.parametrize(("why", "data", "expected"), CASES, ids=[c[0] for c in CASES])
def test_broken_stack_file_gets_its_own_message(tmp_path: Path, why: str, data: bytes, expected: str) -> None:
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        read_stack_file("broken", tmp_path)
    message = str(info.value)
    assert message.startswith(f"stack 'broken': {path}: "), f"{why}: the file is not named: {message}"
    assert expected in message, f"{why}: {expected!r} not in {message}"
    assert "Traceback" not in message and len(message.splitlines()) <= 6


def test_a_good_file_still_reads(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.good.yaml").write_text(GOOD + "  hcloud:token:\n    secure: abc\n", encoding="utf-8")
    raw = read_stack_file("good", tmp_path)
    assert dict(raw.values) == {"chain": "none", "role": "host"}


def test_cli_prints_one_clean_message_for_a_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI path (`infrakit validate STACK`): the message, a non-zero exit, no traceback."""
    monkeypatch.setattr(project, "_selected", None)  # the CLI selects the project for the process
    (tmp_path / "Pulumi.yaml").write_text("name: mine\nruntime: python\nstackConfigDir: stacks\n", encoding="utf-8")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.broken.yaml").write_bytes(b"\xff\xfe")
    code = registry.main(["--project", str(tmp_path), "validate", "broken"])
    err = capsys.readouterr().err
    assert code != 0 and "not UTF-8 text" in err and "Traceback" not in err
