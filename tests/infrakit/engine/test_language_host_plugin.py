"""RunPlugin: the language host runs a Python plugin directory (a policy pack) the way upstream
does, `python -u DIR ARGS`, in the plugin's virtualenv, and streams its output and exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc

from infrakit.engine.language_host import plugin_arguments, plugin_environment, plugin_python

VENV = Path(sys.executable).parent.parent


def _info(root: Path, **options: str) -> SimpleNamespace:
    return SimpleNamespace(root_directory=str(root), program_directory=str(root), entry_point="", options=options)


def test_the_plugins_virtualenv_is_relative_to_its_root(tmp_path: Path) -> None:
    pack = tmp_path / "project" / "policy"
    pack.mkdir(parents=True)
    (tmp_path / "project" / ".venv").symlink_to(VENV)
    assert plugin_python(_info(pack, virtualenv="../.venv")) == str(VENV.resolve() / "bin" / "python")
    with pytest.raises(FileNotFoundError, match="has no bin/python"):
        plugin_python(_info(pack, virtualenv="../nowhere"))
    request = SimpleNamespace(
        info=_info(pack, virtualenv="../.venv"), args=["127.0.0.1:9"], pwd="/p", env=["A=1", "B=x=y"]
    )
    assert plugin_arguments(request)[1:] == ["-u", str(pack), "127.0.0.1:9"]
    env = plugin_environment(request)
    assert env["A"] == "1" and env["B"] == "x=y"


def test_run_plugin_streams_output_and_exit_code_over_grpc(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "__main__.py").write_text(
        "import os, sys\nprint('port', sys.argv[1], os.environ['FROM_ENGINE'], flush=True)\n"
        "print('oops', file=sys.stderr, flush=True)\nsys.exit(3)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "infrakit.engine.language_host", "127.0.0.1:1"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().strip())
        options = struct_pb2.Struct()
        options.update({"virtualenv": str(VENV)})
        info = language_pb2.ProgramInfo(root_directory=str(plugin), program_directory=str(plugin), options=options)
        request = language_pb2.RunPluginRequest(
            pwd=str(tmp_path), args=["127.0.0.1:7"], env=["FROM_ENGINE=yes"], info=info, kind="analyzer"
        )
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = language_pb2_grpc.LanguageRuntimeStub(channel)
            out, err, codes = b"", b"", []
            for item in stub.RunPlugin(request, timeout=60):
                which = item.WhichOneof("output")
                if which == "stdout":
                    out += item.stdout
                elif which == "stderr":
                    err += item.stderr
                else:
                    codes.append(item.exitcode)
        assert out == b"port 127.0.0.1:7 yes\n" and err == b"oops\n" and codes == [3]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
