"""Every lab host a test run boots is named from one per-run prefix, so that concurrent runs
on one machine never take (or remove) each other's hosts: ``$INFRAKIT_TEST_PREFIX`` (e.g. a
developer's initials), else ``t<pid>``. Addresses are allocated (infrakit_lab/addresses.py),
so two names never collide either.
"""

from __future__ import annotations

import os

from infrakit_lab.config import MAX_NAME_LEN, validate_name

PREFIX = os.environ.get("INFRAKIT_TEST_PREFIX") or f"t{os.getpid() % 100000}"


def test_host(role: str) -> str:
    """The name of this run's lab host for `role` (at most 5 characters)."""
    name = f"{PREFIX}{role}"
    if len(name) > MAX_NAME_LEN:
        raise ValueError(f"INFRAKIT_TEST_PREFIX={PREFIX!r} is too long for role {role!r} (names <= {MAX_NAME_LEN})")
    return validate_name(name)


test_host.__test__ = False  # type: ignore[attr-defined]  # a helper, not a pytest test
