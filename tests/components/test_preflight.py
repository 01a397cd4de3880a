"""The preview's estimate of the lock-out guard (no SSH: this machine's route to the host)."""

from __future__ import annotations

from adapters.registry import REGISTRY
from components.preflight import local_source_address, nat_likely, preview_lockout_warning
from infrakit.config import RawConfig, load
from infrakit.plan import build_plan
from tests.conftest import StackFactory


def existing(stack_values: StackFactory, cidrs: list[str]) -> dict[str, object]:
    values = stack_values(access={"adminCidrs": cidrs})
    values["host"] = {"target": "existing", "address": "127.0.0.1", "bootstrapUser": "root"}
    return values


def test_a_preview_warns_when_this_machines_address_is_outside_the_admin_cidrs(stack_values: StackFactory) -> None:
    """A host reached without NAT (here: loopback) sees this machine's source address: the
    preview names the problem pulumi up will refuse, naming stack and key."""
    assert local_source_address("127.0.0.1", 22) == "127.0.0.1"
    plan = build_plan(load(RawConfig("s", existing(stack_values, ["198.51.100.0/24"])), REGISTRY))
    warning = preview_lockout_warning(plan, "127.0.0.1", 22) or ""
    assert "a `pulumi up` from this machine comes from 127.0.0.1" in warning
    assert "stack 's' access.adminCidrs (198.51.100.0/24)" in warning
    inside = build_plan(load(RawConfig("s", existing(stack_values, ["127.0.0.0/8"])), REGISTRY))
    assert preview_lockout_warning(inside, "127.0.0.1", 22) is None


def test_the_estimate_is_not_shown_where_nat_is_likely_or_the_address_is_a_name() -> None:
    assert nat_likely("192.168.1.5", "8.8.8.8")
    assert not nat_likely("10.199.0.1", "10.199.0.2") and not nat_likely("8.8.4.4", "8.8.8.8")
    assert local_source_address("node.example.invalid", 22) == "", "no name lookup in a preview"
