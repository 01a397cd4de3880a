"""The policyFacts output: what the policy pack checks of the plan, for every shipped stack.

The shipped stacks must pass every rule of the pack except pins the lock file does not have
yet: those are exactly the plan's own blockers (unlocked artifacts), so the policy and the
plan agree on what cannot be deployed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from infrakit.config import list_stacks, load_stack
from infrakit.plan import build_plan
from infrakit.policy_facts import FACTS_OUTPUT, policy_facts
from tests.conftest import StackFactory, load_values

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "policy"))
from infrakit_policy import rules

STACKS = list_stacks()


def test_the_output_name_is_the_packs() -> None:
    assert FACTS_OUTPUT == rules.FACTS_OUTPUT


@pytest.mark.parametrize("name", STACKS)
def test_shipped_stack_passes_the_pack(name: str) -> None:
    stack = load_stack(name)
    plan = build_plan(stack)
    facts = json.loads(json.dumps(policy_facts(stack, plan)))  # what a stack output carries
    found, problems = rules.read_facts({FACTS_OUTPUT: facts})
    assert found is not None, problems
    violations = rules.facts_violations(found)
    unpinned = violations.pop("artifacts-pinned")
    assert violations == {k: [] for k in violations}, f"{name}: {violations}"
    unlocked = {a["name"] for a in facts["artifacts"] if not a["sha256"]}
    assert {v.split(":")[0].removeprefix("artifact ") for v in unpinned} == unlocked
    for art in unlocked:
        assert any(f"artifact {art} " in b for b in plan.blockers), f"{name}: {art} unpinned but not a blocker"


def test_facts_describe_the_host(stack_values: StackFactory) -> None:
    stack = load_values(stack_values(access={"sshPort": 2222}))
    facts = policy_facts(stack, build_plan(stack))
    assert facts["schema"] == rules.FACTS_SCHEMA
    assert (facts["role"], facts["target"], facts["sshPort"]) == ("host", "hcloud", 2222)
    assert facts["hostFirewall"][0] == {
        "protocol": "tcp",
        "port": 2222,
        "sources": stack.config.access.admin_cidrs,
        "purpose": "ssh admin",
    }


def test_ssh_from_anywhere_is_caught_by_the_pack(stack_values: StackFactory) -> None:
    """allowSshFromAnywhere is a stack-level escape hatch; the policy still refuses it (an
    operator must relax the policy explicitly with --policy-pack-config)."""
    stack = load_values(stack_values(access={"adminCidrs": ["0.0.0.0/0"], "allowSshFromAnywhere": True}))
    facts = policy_facts(stack, build_plan(stack))
    assert rules.facts_violations(facts)["ssh-not-open-to-world"]


def test_unprotected_validator_is_caught() -> None:
    stack = load_stack("eth-hoodi-validator")
    facts = policy_facts(stack, build_plan(stack))
    assert facts["protected"] is True and rules.facts_violations(facts)["validator-protected"] == []
    assert rules.facts_violations({**facts, "protected": False})["validator-protected"]
