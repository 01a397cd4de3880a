"""The chain seam: what a chain adapter provides (contract) and how the entry points hand the
registered adapters to core (Registry). Core never imports `adapters/`; the entry points
(`adapters/registry.py:main` for the CLI, `__main__.py` for Pulumi) pass the registry in."""

from infrakit.chain.contract import ChainAdapter, ChainParts, Problem, Role
from infrakit.chain.registry import Registry

__all__ = ["ChainAdapter", "ChainParts", "Problem", "Registry", "Role"]
