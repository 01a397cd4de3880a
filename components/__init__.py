"""Pulumi component resources: the host (hcloud or existing) and its setup from the plan."""

import gc

# Collect generation 0 after this many net allocations instead of 700 (CPython's default).
GC_GEN0_THRESHOLD = 20_000


def tune_gc() -> None:
    """Pulumi keeps a few hundred objects per resource alive until the program ends, so with
    the default threshold the cyclic collector ran ~1,700 times while 100 hosts were built
    and took ~30% of the evaluation (bench/README.md). Fewer, larger collections: same memory."""
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GC_GEN0_THRESHOLD), gen1, gen2)
