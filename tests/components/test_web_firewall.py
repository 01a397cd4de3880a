"""Under Pulumi mocks: the cloud firewall opens 80/443 only when the stack turns the web tier on."""

from __future__ import annotations

from tests.conftest import StackFactory
from tests.pulumi_mocks import evaluate

WEB = {"enabled": True, "domain": "rpc.example.org", "acmeEmail": "ops@example.org",
       "rpcAllowCidrs": ["198.51.100.0/24"]}
WORLD = ["0.0.0.0/0", "::/0"]


def inbound(values: dict) -> list[tuple[str, str, list[str]]]:
    result = evaluate("test-web", values)
    return sorted((r["protocol"], r["port"], sorted(r["sourceIps"])) for r in result.cloud_rules()
                  if r["direction"] == "in")


def test_web_tier_off_keeps_80_and_443_closed(stack_values: StackFactory) -> None:
    """Monitoring is on by default, but its ports are private: only admin SSH is open."""
    assert [port for _, port, _ in inbound(stack_values())] == ["22"]


def test_web_tier_on_opens_80_and_443_to_the_world(stack_values: StackFactory) -> None:
    """ACME HTTP-01 needs 80 from anywhere and clients need 443; the RPC allowlist is enforced
    by the proxy, not by the firewall (a firewall allowlist would also block ACME)."""
    rules = inbound(stack_values(web=WEB))
    assert ("tcp", "80", sorted(WORLD)) in rules and ("tcp", "443", sorted(WORLD)) in rules
    assert [port for _, port, _ in rules] == ["22", "443", "80"], "nothing else, and never the monitoring ports"


def test_basic_auth_hash_travels_as_a_secret(stack_values: StackFactory) -> None:
    secret = "$2y$12$" + "a" * 53
    values = stack_values(web={**WEB, "rpcBasicAuthUser": "rpc"})
    result = evaluate("test-web", values, {"webBasicAuthHash": secret})
    proxy = result.mocks.named("node-setup-web_proxy")
    assert proxy.inputs["stdin"] == f"RPC_AUTH_HASH={secret}\n" and proxy.is_secret("stdin")
    for step in result.steps:
        plain = {k: v for k, v in step.raw_inputs.items() if k != "stdin"}
        assert secret not in str(plain), step.name
