"""Jinja2 rendering for every config file and unit a plan installs (StrictUndefined)."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from infrakit.plan.sources import PROJECT_ROOT


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PROJECT_ROOT)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - config files and units, not HTML
    )


def render(template: str, **context: Any) -> str:
    """Render a template by its project-relative path, e.g. 'shared/hardening/templates/x.j2'."""
    return environment().get_template(template).render(**context)
