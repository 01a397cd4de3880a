"""Render a Component into a hardened systemd unit (templates/unit.service.j2)."""

from __future__ import annotations

from adapters.ethereum.clients import DATA_ROOT, JWT_GROUP, Component, Ctx
from infrakit.plan.templates import render

TEMPLATE = "adapters/ethereum/templates/unit.service.j2"
SAFE_WORD = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=,@+-")
DEPENDS = {"beacon": ("eth-execution.service",), "validator": ("eth-beacon.service",), "execution": (),
           "mevboost": ()}
DESCRIPTION = {"execution": "Ethereum execution client", "beacon": "Ethereum beacon node",
               "validator": "Ethereum validator client", "mevboost": "MEV-boost (builder API sidecar)"}


def quote(arg: str) -> str:
    """One ExecStart word: systemd specifiers (%) and variables ($) escaped, quoted if needed."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if escaped and set(escaped) <= SAFE_WORD:
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command_line(argv: list[str]) -> str:
    """argv as an ExecStart value: one option (with its value) per continued line, for review."""
    lines: list[list[str]] = [[quote(argv[0])]]
    for arg in argv[1:]:
        if arg.startswith("-") or len(lines) == 1:
            lines.append([quote(arg)])
        else:
            lines[-1].append(quote(arg))
    return " \\\n    ".join(" ".join(words) for words in lines)


def render_unit(component: Component, ctx: Ctx, artifacts: str, builder_wants: bool = False) -> str:
    pre = component.pre(ctx) if component.pre else None
    wants = list(DEPENDS[component.role])
    if builder_wants and component.role == "beacon":
        wants.append("eth-mevboost.service")
    return render(
        TEMPLATE,
        description=f"{DESCRIPTION[component.role]}: {component.client} ({ctx.network})",
        wants=wants,
        artifacts=artifacts,
        user=component.user,
        groups=[JWT_GROUP] if component.role in {"execution", "beacon"} else [],
        # A service user's home is /nonexistent and ProtectSystem=strict makes everything but the
        # data dir read-only: whatever a client writes under $HOME (caches, logs) lands in its data dir.
        environment={**({"HOME": component.data_dir} if component.data_dir else {}), **component.environment},
        restart_prevent=" ".join(str(code) for code in component.restart_prevent),
        start_timeout=component.start_timeout,
        working_directory=component.data_dir,
        exec_start_pre=[command_line(pre)] if pre else [],
        exec_start=command_line(component.argv(ctx)),
        stop_timeout=component.stop_timeout,
        ident=component.unit.removesuffix(".service"),
        read_write=[component.data_dir] if component.data_dir else [],
        jit=component.jit,
        data_root=DATA_ROOT,
    )
