"""One error type for bad stack configuration, with messages that name stack and key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import ValidationError

NAMESPACE = "infrakit"


class ConfigError(Exception):
    """A stack file that cannot be used. `str()` is the full message for the operator."""

    def __init__(self, stack: str, problems: Sequence[tuple[str, str]]) -> None:
        self.stack = stack
        self.problems = list(problems)
        lines = [f"stack '{stack}': {key}: {msg}" for key, msg in self.problems]
        super().__init__("\n".join(lines))


def key_path(loc: Iterable[str | int]) -> str:
    """`('access', 'adminCidrs', 0)` -> `infrakit:access.adminCidrs[0]` (pydantic reports aliases)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return f"{NAMESPACE}:{out}" if out else f"{NAMESPACE}:<root>"


def _drop_union_tags(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Discriminated unions add the tag (e.g. 'hcloud') to the location; readers don't need it."""
    return tuple(p for p in loc if p not in {"hcloud", "existing"})


def problems_from_validation(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = _drop_union_tags(tuple(err["loc"]))
        kind = err["type"]
        if kind == "extra_forbidden":
            msg = "unknown key (check the spelling; unknown keys are refused)"
        elif kind == "missing":
            msg = "required key is missing"
        elif kind == "union_tag_invalid":
            msg = f"expected target: hcloud or target: existing (got {err.get('ctx', {}).get('tag')!r})"
        elif kind == "union_tag_not_found":
            msg = "missing 'target' (expected hcloud or existing)"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if "input" in err and not isinstance(err["input"], (dict, list)):
                msg += f" (got {err['input']!r})"
        problems.append((key_path(loc), msg))
    return problems
