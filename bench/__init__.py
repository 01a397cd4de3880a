"""InfraKit benchmarks: cold converge, no-op re-apply, program evaluation, render (see bench/README.md)."""
