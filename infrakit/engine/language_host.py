"""A Python language host for the Pulumi engine: `pulumi-language-python`, ours.

The engine starts a language host as a plugin (`pulumi-language-python [flags] ENGINE_ADDRESS`),
reads the gRPC port it prints, and asks it to run the program. Upstream's host is a Go module
the project's machines cannot fetch, so this one serves the same protocol with the Python SDK's
own generated stubs and runs the program the way upstream does: `python -u
pulumi-language-python-exec --monitor ... PROGRAM` (the launcher from the SDK of the engine's
version, installed beside this host by scripts/engine.sh), config in PULUMI_CONFIG.

Only what `pulumi preview/up/destroy/refresh/stack` needs is served, and RunPlugin for Python
plugins the engine runs through its language host (a policy pack: `--policy-pack policy`); the
rest answers UNIMPLEMENTED, which the engine treats as "not supported by this host".
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import IO, Any

import grpc
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

from infrakit.engine import ENGINE_VERSION

# The launcher exits 32 after it has shown the user an actionable message: bail quietly.
SHOWN_TO_USER = 32
EXEC_NAME = "pulumi-language-python-exec"


def python_command() -> str:
    return os.environ.get("PULUMI_PYTHON_CMD") or sys.executable or "python3"


def find_exec() -> str:
    """The launcher beside this host's own executable (or on PATH)."""
    here = os.environ.get("INFRAKIT_ENGINE_BIN")  # set by the launcher script beside it
    if here and (Path(here) / EXEC_NAME).is_file():
        return str(Path(here) / EXEC_NAME)
    found = shutil.which(EXEC_NAME)
    if not found:
        raise FileNotFoundError(f"{EXEC_NAME} is not beside the language host nor on PATH")
    return found


def run_arguments(request: Any, engine_address: str, launcher: str) -> list[str]:
    """The launcher's command line for one RunRequest (no config values: those go in env)."""
    info = request.info
    root = info.root_directory or request.pwd
    program = info.entry_point or request.program or "."
    if info.program_directory and not os.path.isabs(program):
        program = os.path.join(info.program_directory, program)
    args = [
        python_command(),
        "-u",
        launcher,
        "--monitor",
        request.monitor_address,
        "--engine",
        engine_address,
        "--project",
        request.project,
        "--stack",
        request.stack,
        "--pwd",
        request.pwd or root,
        "--dry_run",
        "true" if request.dryRun else "false",
        "--parallel",
        str(request.parallel),
    ]
    if request.organization:
        args += ["--organization", request.organization]
    if root:
        args += ["--root_directory", root]
    return [*args, program, *request.args]


def plugin_python(info: Any) -> str:
    """The interpreter for a plugin: its `virtualenv` option (PulumiPolicy.yaml, relative to the
    plugin's root), else the program's interpreter."""
    options = dict(info.options.items()) if getattr(info, "options", None) is not None else {}
    venv = options.get("virtualenv")
    if isinstance(venv, str) and venv:
        root = Path(info.root_directory or info.program_directory or ".")
        python = (root / venv).resolve() / "bin" / "python"
        if not python.is_file():
            raise FileNotFoundError(f"the plugin's virtualenv {root / venv} has no bin/python")
        return str(python)
    return python_command()


def plugin_arguments(request: Any) -> list[str]:
    """As upstream runs a bare-directory Python plugin: `python -u DIR ARGS...` (its __main__.py)."""
    info = request.info
    directory = info.program_directory or info.root_directory or request.pwd
    return [plugin_python(info), "-u", directory, *request.args]


def plugin_environment(request: Any) -> dict[str, str]:
    env = dict(os.environ)
    for entry in request.env:
        key, _, value = entry.partition("=")
        if key:
            env[key] = value
    return env


def _pump(stream: IO[bytes], kind: str, out: queue.Queue[tuple[str, bytes]]) -> None:
    """Forward a pipe chunk by chunk as soon as it is written (the engine waits for a port line)."""
    while chunk := os.read(stream.fileno(), 65536):
        out.put((kind, chunk))
    out.put((kind, b""))


def run_environment(request: Any) -> dict[str, str]:
    env = dict(os.environ)
    env["PULUMI_CONFIG"] = json.dumps(dict(request.config))
    env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
    return env


class LanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine_address: str) -> None:
        self.engine_address = engine_address

    def Handshake(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC method name)
        if request.engine_address:
            self.engine_address = request.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request: Any, context: Any) -> Any:  # noqa: N802
        return plugin_pb2.PluginInfo(version=ENGINE_VERSION)

    def GetRequiredPlugins(self, request: Any, context: Any) -> Any:  # noqa: N802
        # Providers load on first use (the engine asks for them when a resource names one).
        return language_pb2.GetRequiredPluginsResponse()

    def GetRequiredPackages(self, request: Any, context: Any) -> Any:  # noqa: N802
        return language_pb2.GetRequiredPackagesResponse()

    def About(self, request: Any, context: Any) -> Any:  # noqa: N802
        version = subprocess.run(
            [python_command(), "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        return language_pb2.AboutResponse(executable=python_command(), version=version)

    def GetProgramDependencies(self, request: Any, context: Any) -> Any:  # noqa: N802
        return language_pb2.GetProgramDependenciesResponse()

    def Run(self, request: Any, context: Any) -> Any:  # noqa: N802
        try:
            launcher = find_exec()
        except FileNotFoundError as exc:
            return language_pb2.RunResponse(error=str(exc))
        args = run_arguments(request, self.engine_address, launcher)
        # The program's output goes where ours goes: the engine shows it as diagnostics.
        proc = subprocess.run(args, env=run_environment(request), cwd=request.pwd or None, check=False)
        if proc.returncode == 0:
            return language_pb2.RunResponse()
        if proc.returncode == SHOWN_TO_USER:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"Program exited with non-zero exit code: {proc.returncode}")

    def RunPlugin(self, request: Any, context: Any) -> Iterator[Any]:  # noqa: N802
        """Run a Python plugin (a policy pack) and stream its stdout/stderr, then its exit code.
        The engine ends the plugin by cancelling the call: the process is terminated then."""
        try:
            args = plugin_arguments(request)
        except FileNotFoundError as exc:
            yield language_pb2.RunPluginResponse(stderr=f"{exc}\n".encode())
            yield language_pb2.RunPluginResponse(exitcode=1)
            return
        proc = subprocess.Popen(
            args,
            cwd=request.pwd or None,
            env=plugin_environment(request),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        context.add_callback(proc.terminate)
        chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()
        assert proc.stdout is not None and proc.stderr is not None
        for kind, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            threading.Thread(target=_pump, args=(stream, kind, chunks), daemon=True).start()
        open_streams = 2
        while open_streams:
            kind, chunk = chunks.get()
            if not chunk:
                open_streams -= 1
                continue
            if kind == "stdout":
                yield language_pb2.RunPluginResponse(stdout=chunk)
            else:
                yield language_pb2.RunPluginResponse(stderr=chunk)
        yield language_pb2.RunPluginResponse(exitcode=proc.wait())


def engine_address_from(argv: list[str]) -> str:
    """The last positional argument; flags like `-root DIR` / `-tracing URL` take a value."""
    positional: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg.startswith("-"):
            if "=" not in arg and arg.lstrip("-") in {"root", "tracing", "virtualenv", "toolchain", "typechecker"}:
                next(it, None)
            continue
        positional.append(arg)
    return positional[-1] if positional else ""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--version"]:
        print(ENGINE_VERSION)
        return 0
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)]
    )
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(LanguageHost(engine_address_from(args)), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    # The engine stops its plugins with a signal when it is done: that is a normal end.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.stop(0))
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
