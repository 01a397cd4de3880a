"""A stack is usable against another host without editing it (--host, --admin-cidr)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.registry import REGISTRY
from infrakit.apply.cli import login_command
from infrakit.apply.ssh import Target
from infrakit.config import ConfigError
from infrakit.config.models import ExistingTarget
from infrakit.config.overrides import load_stack_with
from infrakit.plan import build_plan


def test_the_lab_stack_against_another_lab_host() -> None:
    stack = load_stack_with("lab", REGISTRY, host="ops@10.199.42.2", admin_cidrs=["10.199.42.1/32"])
    assert isinstance(stack.config.host, ExistingTarget)
    assert stack.config.host.address == "10.199.42.2"
    assert build_plan(stack).admin_cidrs == ("10.199.42.1/32",)


def test_overrides_are_validated_like_the_file() -> None:
    with pytest.raises(ConfigError, match=r"infrakit:access.adminCidrs\[0\]"):
        load_stack_with("lab", REGISTRY, admin_cidrs=["not-a-cidr"])
    with pytest.raises(ConfigError, match="published lab-only key"):
        load_stack_with("lab", REGISTRY, host="203.0.113.7")  # the lab key never opens a host outside the lab


def test_an_hcloud_stack_keeps_its_config() -> None:
    stack = load_stack_with("hardened-hcloud", REGISTRY, host="203.0.113.7")
    assert stack.config.host.target == "hcloud"


def test_login_command_is_the_one_that_works() -> None:
    target = Target("10.199.42.2", "ops", 2222, identity=None)
    assert login_command(target) == "ssh -p 2222 -o StrictHostKeyChecking=yes ops@10.199.42.2"
    target = Target("10.199.42.2", "ops", 22, Path("/k/admin key"), Path("/s/known_hosts"))
    assert login_command(target) == (
        "ssh -i '/k/admin key' -o UserKnownHostsFile=/s/known_hosts -o StrictHostKeyChecking=yes ops@10.199.42.2"
    )
