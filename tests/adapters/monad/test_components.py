"""The Pulumi program under mocks for Monad stacks: one Step per planned step, the keystore
password only ever in encrypted stdin, no cloud resource, and a refused hcloud target."""

from __future__ import annotations

import pytest

from infrakit.plan import build_plan
from tests.adapters.monad.conftest import PASSWORD, MonadValues, monad_stack
from tests.pulumi_mocks import evaluate


def test_program_runs_every_monad_step_with_the_password_only_in_secret_stdin(monad_values: MonadValues) -> None:
    values = monad_values()
    result = evaluate("monad-test", values, secrets={"monadKeystorePassword": PASSWORD})
    assert not [r for r in result.mocks.resources if r.typ.startswith("hcloud:")], "bare metal: no cloud resource"
    plan = build_plan(monad_stack(values))
    assert len(result.steps) == len(plan.steps)
    carried = []
    for resource in result.mocks.resources:
        for key, value in resource.raw_inputs.items():
            if PASSWORD in str(resource.inputs.get(key, "")) or PASSWORD in str(value):
                assert key == "stdin" and resource.is_secret(key), f"{resource.name}.{key} leaks the password"
                carried.append(resource.name)
    assert carried == ["node-setup-monad_config"], carried
    config = result.mocks.named("node-setup-monad_config")
    assert config.inputs["stdin"] == f"KEYSTORE_PASSWORD={PASSWORD}\n"


def test_program_refuses_an_hcloud_monad_stack(monad_values: MonadValues) -> None:
    values = monad_values(host={"target": "hcloud", "serverType": "ccx63", "location": "fsn1", "address": None})
    with pytest.raises(Exception, match="bare metal"):
        evaluate("monad-test", values, secrets={"monadKeystorePassword": PASSWORD})


def test_update_without_the_password_stops_before_any_resource(monad_values: MonadValues) -> None:
    with pytest.raises(Exception, match="monadKeystorePassword is not set"):
        evaluate("monad-test", monad_values())
