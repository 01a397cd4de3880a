"""The Pulumi engine InfraKit runs: its version and our Python language host."""

# Keep equal to ENGINE_VERSION in scripts/engine.sh and the pins in scripts/engine/go.mod.
ENGINE_VERSION = "3.274.1"
