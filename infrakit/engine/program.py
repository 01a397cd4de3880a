"""Is this process the Pulumi program run by the Pulumi engine? If not, say how to run it."""

from __future__ import annotations

import sys

HOW_TO_RUN = """\
__main__.py is the Pulumi program: the Pulumi engine runs it and hands it the stack's config.
Run it with the Pulumi CLI:   scripts/pulumi preview -s STACK   /   scripts/pulumi up -s STACK
                              (or your own `pulumi`, same arguments)
Without Pulumi (plain SSH):   infrakit plan STACK   /   infrakit apply STACK
Review offline:               infrakit validate   /   infrakit render STACK"""


def outside_engine() -> bool:
    """True when no Pulumi engine (nor test mocks) is attached to this process."""
    from pulumi.runtime.settings import get_monitor  # noqa: PLC0415 - only the program imports pulumi

    return get_monitor() is None


def require_engine() -> None:
    """Exit (code 2) with how to run the program, instead of failing later with a traceback
    about the missing config of a stack called 'stack'."""
    if outside_engine():
        print(HOW_TO_RUN, file=sys.stderr)
        raise SystemExit(2)
