"""The Pulumi engine InfraKit runs: its version, our Python language host, the program guard."""

from infrakit.engine.program import require_engine

__all__ = ["ENGINE_VERSION", "require_engine"]

# Keep equal to ENGINE_VERSION in scripts/engine.sh and the pins in scripts/engine/go.mod.
ENGINE_VERSION = "3.274.1"
