"""ePBS (Glamsterdam/Gloas, EIP-7732) external builders: the per-client files that list them.

From the fork on the beacon node asks builders for bids itself (mev-boost is no longer called) and
the validator client says which builders to ask. lodestar takes them as flags (clients.py); lighthouse
and prysm read a file, rendered here and installed by eth_prepare under BUILDERS_DIR. SOURCES.md says
where each format was read. teku and nimbus are refused by the adapter (no released configuration).

Every client gets max_execution_payment 0: only the payment the protocol enforces counts toward a bid,
never an off-protocol promise (lodestar calls anything above 0 dangerous and wants an extra flag).
"""

from __future__ import annotations

import hashlib
import json

from adapters.ethereum.clients import LIGHTHOUSE_BUILDERS, PRYSM_PROPOSER_SETTINGS, Ctx
from infrakit.plan.model import RenderedFile

# The clients whose builder configuration was read in a released version (SOURCES.md).
SUPPORTED = ("lighthouse", "prysm", "lodestar")
HEADER = "# Managed by InfraKit (eth_prepare): ePBS builders from chainSettings.builders. Edit the stack.\n"


def lighthouse_definitions(c: Ctx) -> str:
    """lighthouse book `gloas_builder_config.md`: builder_definitions.yml in the validators dir."""
    lines = [HEADER.rstrip("\n"), f"min_bid: {c.builder_min_bid_gwei}", "builder_boost_factor: 100", "builders:"]
    for url in c.builders:
        # URLs are validated (settings.BUILDER_URL_RE): a JSON string is a valid YAML scalar for them
        lines += ["  - enabled: true", f"    url: {json.dumps(url)}", "    max_execution_payment: 0"]
    return "\n".join(lines) + "\n"


def prysm_proposer_settings(c: Ctx) -> str:
    """prysm v2 proposer settings (`--proposer-settings-file`): builders per key, here one default for all."""
    doc = {
        "version": 2,
        "default_config": {
            "fee_recipient": c.fee_recipient,
            "builder": {
                "enabled": True,
                "min_bid": str(c.builder_min_bid_gwei),
                "max_execution_payment": "0",
                "builders": [{"url": url} for url in c.builders],
            },
        },
    }
    return json.dumps(doc, indent=2) + "\n"


def builder_file(client: str, c: Ctx) -> RenderedFile | None:
    """The file the validator client reads its builders from, when it reads a file and has builders."""
    if not c.builders:
        return None
    if client == "lighthouse":
        return RenderedFile(
            name="lighthouse-builder-definitions.yml", dest=LIGHTHOUSE_BUILDERS, content=lighthouse_definitions(c)
        )
    if client == "prysm":
        return RenderedFile(
            name="prysm-proposer-settings.json", dest=PRYSM_PROPOSER_SETTINGS, content=prysm_proposer_settings(c)
        )
    return None


def config_digest(client: str, c: Ctx) -> str | None:
    """sha256 of the builder file, written into the validator unit so a change restarts the client."""
    rendered = builder_file(client, c)
    return hashlib.sha256(rendered.content.encode()).hexdigest() if rendered else None
