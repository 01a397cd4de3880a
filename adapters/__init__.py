"""Chain adapters: one folder per chain, registered once in `adapters.registry`."""
