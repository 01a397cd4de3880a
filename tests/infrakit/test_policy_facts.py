"""The policyFacts output: what the policy pack checks of the plan, for every shipped stack.

The shipped stacks must pass every rule of the pack except pins the lock file does not have
yet: those are exactly the plan's own blockers (unlocked artifacts), so the policy and the
plan agree on what cannot be deployed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from adapters.registry import REGISTRY
from infrakit.config import list_stacks, load_stack
from infrakit.plan import build_plan
from infrakit.policy_facts import (
    APT_SCRIPT,
    FACTS_OUTPUT,
    NPM_SCRIPT,
    OCI_SCRIPT,
    TARBALL_SCRIPT,
    artifacts,
    policy_facts,
)
from tests.conftest import StackFactory, load_values

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "policy"))
from infrakit_policy import rules

STACKS = list_stacks()


def test_the_output_name_is_the_packs() -> None:
    assert FACTS_OUTPUT == rules.FACTS_OUTPUT


@pytest.mark.parametrize("name", STACKS)
def test_shipped_stack_passes_the_pack(name: str) -> None:
    stack = load_stack(name, REGISTRY)
    plan = build_plan(stack)
    facts = json.loads(json.dumps(policy_facts(stack, plan)))  # what a stack output carries
    found, problems = rules.read_facts({FACTS_OUTPUT: facts})
    assert found is not None, problems
    violations = rules.facts_violations(found)
    unpinned = violations.pop("artifacts-pinned")
    assert violations == {k: [] for k in violations}, f"{name}: {violations}"
    unlocked = {a["name"] for a in facts["artifacts"] if not a["pin"]}
    assert {v.split(" (")[0].removeprefix("artifact ") for v in unpinned} == unlocked
    assert all(a["kind"] == "tarball" for a in facts["artifacts"] if not a["pin"]), "only the lock file is open"
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
    stack = load_stack("eth-hoodi-validator", REGISTRY)
    facts = policy_facts(stack, build_plan(stack))
    assert facts["protected"] is True and rules.facts_violations(facts)["validator-protected"] == []
    assert rules.facts_violations({**facts, "protected": False})["validator-protected"]


def _plan_of(*steps: SimpleNamespace) -> Any:
    return SimpleNamespace(steps=[SimpleNamespace(step=s) for s in steps])


def _step(script: str, params: dict[str, str], files: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(name="s", script=script, params=params, files=[SimpleNamespace(name=f) for f in files])


def test_every_artifact_kind_is_in_the_facts_with_its_pin() -> None:
    digest = "sha256:" + "c" * 64
    plan = _plan_of(
        _step(
            TARBALL_SCRIPT,
            {
                "ARTIFACT_NAME": "geth",
                "ARTIFACT_VERSION": "1.0.0",
                "ARTIFACT_URL": "https://x",
                "ARTIFACT_SHA256": "c" * 64,
            },
        ),
        _step(OCI_SCRIPT, {"OCI_NAME": "web", "OCI_VERSION": "1.2.3", "OCI_DIGEST": digest, "OCI_ARCHIVE_URL": ""}),
        _step(
            NPM_SCRIPT,
            {"NPM_PACKAGE": "@aztec/aztec", "NPM_VERSION": "4.1.2", "NPM_REGISTRY": "https://r/"},
            ("package.json", "package-lock.json"),
        ),
        _step(APT_SCRIPT, {"APT_PACKAGE": "caddy", "APT_VERSION": "2.10.2-1"}, ("infrakit-caddy.asc",)),
        _step("shared/provision/base_packages.sh", {"PACKAGES": "curl"}),
    )
    facts = artifacts(plan)
    assert [(a["kind"], a["pin"]) for a in facts] == [
        ("tarball", digest),
        ("oci", digest),
        ("npm", "lockfile"),
        ("apt", "signed"),
    ]
    assert rules.unpinned_artifacts(facts) == []
    unpinned = artifacts(
        _plan_of(
            _step(NPM_SCRIPT, {"NPM_PACKAGE": "x", "NPM_VERSION": "1.0.0"}, ("package.json",)),
            _step(APT_SCRIPT, {"APT_PACKAGE": "y", "APT_VERSION": "1.0-1"}),
        )
    )
    assert len(rules.unpinned_artifacts(unpinned)) == 2


def test_public_web_rpc_is_caught(stack_values: StackFactory) -> None:
    web = {
        "enabled": True,
        "domain": "rpc.example.org",
        "acmeEmail": "ops@example.org",
        "rpcAllowCidrs": ["0.0.0.0/0", "::/0"],
        "allowPublicRpc": True,
    }
    stack = load_values(stack_values(web=web))
    facts = policy_facts(stack, build_plan(stack))
    assert facts["webRpc"] == {"enabled": True, "allowCidrs": ["0.0.0.0/0", "::/0"], "basicAuth": False}
    assert any("web proxy serves the RPC" in v for v in rules.facts_violations(facts)["no-public-rpc-engine-metrics"])
    narrow = load_values(stack_values(web={**web, "rpcAllowCidrs": ["198.51.100.0/24"], "allowPublicRpc": False}))
    assert rules.facts_violations(policy_facts(narrow, build_plan(narrow)))["no-public-rpc-engine-metrics"] == []
