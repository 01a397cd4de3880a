"""The Pulumi program: load config -> build the node -> export outputs."""

import pulumi

from adapters.registry import REGISTRY
from components import tune_gc
from components.node import ChainNode
from infrakit.config import ConfigError, load
from infrakit.config.loader import from_pulumi_engine
from infrakit.engine import require_engine
from infrakit.plan import build_plan
from infrakit.policy_facts import FACTS_OUTPUT, policy_facts
from infrakit.resource_names import NODE

require_engine()
tune_gc()
try:
    stack = load(from_pulumi_engine(), REGISTRY)
except ConfigError as exc:
    raise pulumi.RunError(str(exc)) from None

plan = build_plan(stack)
if plan.blockers:
    # A preview (e.g. on a pull request) may show the plan; an update must not start it.
    if not pulumi.runtime.is_dry_run():
        raise pulumi.RunError("the plan cannot be applied yet:\n  " + "\n  ".join(plan.blockers))
    for blocker in plan.blockers:
        pulumi.log.warn(blocker)
# Named alike in every stack (a renamed stack changes nothing); earlier versions named the node
# after the stack: the alias keeps those resources (and, inherited, their children) as they are.
node = ChainNode(NODE, stack, plan, pulumi.ResourceOptions(aliases=[pulumi.Alias(name=stack.name)]))
pulumi.export("address", node.address)
pulumi.export("sshCommand", node.ssh_command)
# The host key pinned in the stack or recorded on first contact (for known_hosts).
pulumi.export("hostKey", node.setup.host.seenHostKey)
pulumi.export("stepHashes", node.setup.step_hashes)
pulumi.export("openPorts", node.open_ports)
pulumi.export("planHash", plan.plan_hash)
# What the policy pack (policy/) checks beyond the cloud resources: host firewall, artifacts, roles.
pulumi.export(FACTS_OUTPUT, policy_facts(stack, plan))
