"""The Pulumi program under mocks for Aztec stacks: one Step per planned step, and a cloud
firewall that opens exactly SSH for a dev box (its local network stays on the box)."""

from __future__ import annotations

from adapters.registry import REGISTRY
from infrakit.config import load_stack, read_stack_file
from infrakit.plan import build_plan
from tests.pulumi_mocks import evaluate


def test_the_dev_box_gets_every_step_and_a_cloud_firewall_of_ssh_only() -> None:
    values = dict(read_stack_file("aztec-dev").values)
    result = evaluate("aztec-dev", values)
    assert len(result.steps) == len(build_plan(load_stack("aztec-dev", REGISTRY)).steps)
    firewalls = result.mocks.of_type("hcloud:index/firewall:Firewall")
    rules = [(r["direction"], r["protocol"], r["port"]) for f in firewalls for r in f.inputs["rules"]]
    assert rules == [("in", "tcp", "22")], "no port beyond SSH (the local network stays on the box)"
    (server,) = result.mocks.of_type("hcloud:index/server:Server")
    assert server.inputs["image"] == "ubuntu-24.04"


def test_the_node_stack_is_an_existing_host_with_every_step() -> None:
    values = dict(read_stack_file("aztec-testnet-node").values)
    result = evaluate("aztec-testnet-node", values)
    assert not [r for r in result.mocks.resources if r.typ.startswith("hcloud:")]
    assert len(result.steps) == len(build_plan(load_stack("aztec-testnet-node", REGISTRY)).steps)
