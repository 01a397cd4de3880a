"""The plain-SSH executor's refusals and parsing, without a host (the lab tests run it for real)."""

from __future__ import annotations

import pytest

from infrakit.apply.cli import parse_host
from infrakit.apply.executor import DONE_RE, ApplyError, apply_plan
from infrakit.apply.ssh import Target
from infrakit.config import RawConfig, load, load_stack
from infrakit.plan import build_plan
from tests.conftest import StackFactory

NOWHERE = Target("192.0.2.1", "ops")  # TEST-NET-1: never contacted, refusals come first


def test_a_blocked_plan_is_refused_before_connecting() -> None:
    plan = build_plan(load_stack("lab")).model_copy(update={"blockers": ("artifact x is not locked",)})
    with pytest.raises(ApplyError, match="cannot be applied yet:\n  artifact x is not locked"):
        apply_plan(plan, NOWHERE, {})


def test_missing_secret_is_refused_before_connecting(stack_values: StackFactory) -> None:
    plan = build_plan(load(RawConfig("s", stack_values(), frozenset({"alertWebhookUrl"}))))
    with pytest.raises(ApplyError, match="INFRAKIT_SECRET_ALERTWEBHOOKURL"):
        apply_plan(plan, NOWHERE, {})


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("10.0.0.5", ("10.0.0.5", "ops", 22)),
        ("root@10.0.0.5", ("10.0.0.5", "root", 22)),
        ("admin@host.example:2222", ("host.example", "admin", 2222)),
        ("2001:db8::5", ("2001:db8::5", "ops", 22)),
    ],
)
def test_parse_host(spec: str, expected: tuple[str, str, int]) -> None:
    assert parse_host(spec, "ops", 22) == expected


def test_done_line_is_strict() -> None:
    """Only the exact closing line counts; a script echoing something similar must not."""
    assert DONE_RE.match("infrakit: step=harden_ssh changed=1")
    assert not DONE_RE.match("infrakit: step=harden_ssh changed=yes")
    assert not DONE_RE.match("  infrakit: step=harden_ssh changed=0")
