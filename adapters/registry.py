"""The one place a chain is registered. Adding a chain = a folder + one line in ADAPTERS.

This module is also where the entry points get the chains: the `infrakit` command
(`main`, the console script in pyproject.toml) and the Pulumi program (`__main__.py`) read
REGISTRY and pass it to core (`infrakit.config.load`); core never imports `adapters/`.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.aztec import ADAPTER as AZTEC
from adapters.ethereum import ADAPTER as ETHEREUM
from adapters.monad import ADAPTER as MONAD
from adapters.none import ADAPTER as NONE
from infrakit.chain import Registry

ADAPTERS = (NONE, ETHEREUM, MONAD, AZTEC)
REGISTRY = Registry(ADAPTERS)


def main(argv: Sequence[str] | None = None) -> int:
    """The `infrakit` command with the registered chains."""
    from infrakit.cli import main as cli_main  # noqa: PLC0415 - the CLI's imports load only for the CLI

    return cli_main(argv, chains=REGISTRY)
