"""Our language host: the launcher's command line and environment, the engine address, gRPC."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc

from infrakit.engine import ENGINE_VERSION
from infrakit.engine.language_host import engine_address_from, run_arguments, run_environment


def request(**overrides: object) -> SimpleNamespace:
    info = SimpleNamespace(root_directory="/p", program_directory="/p", entry_point=".")
    base = dict(
        project="infrakit",
        stack="lab",
        pwd="/p",
        program="",
        args=[],
        config={"infrakit:chain": "none"},
        configSecretKeys=["infrakit:sshPrivateKey"],
        dryRun=True,
        parallel=8,
        monitor_address="127.0.0.1:1234",
        organization="organization",
        info=info,
    )
    base.update(overrides)
    return SimpleNamespace(**base)


def test_engine_address_is_the_last_positional_after_flags_with_values() -> None:
    assert engine_address_from(["-root", "/p", "-tracing", "http://x", "127.0.0.1:5555"]) == "127.0.0.1:5555"
    assert engine_address_from(["-root=/p", "127.0.0.1:1"]) == "127.0.0.1:1"
    assert engine_address_from([]) == ""


def test_run_arguments_match_the_upstream_launcher() -> None:
    args = run_arguments(request(), "127.0.0.1:9", "/bin/pulumi-language-python-exec")
    flags = dict(zip(args[3:-1:2], args[4:-1:2], strict=True))
    assert args[1:3] == ["-u", "/bin/pulumi-language-python-exec"]
    assert flags == {
        "--monitor": "127.0.0.1:1234",
        "--engine": "127.0.0.1:9",
        "--project": "infrakit",
        "--stack": "lab",
        "--pwd": "/p",
        "--dry_run": "true",
        "--parallel": "8",
        "--organization": "organization",
        "--root_directory": "/p",
    }
    assert args[-1] == "/p/.", "the program (a directory with __main__.py) comes last"


def test_config_travels_in_the_environment_never_on_the_command_line() -> None:
    """A secret config value on argv would show in `ps`; the launcher reads PULUMI_CONFIG."""
    req = request(config={"infrakit:alertWebhookUrl": "https://hooks.example.invalid/secret-token"})
    assert "secret-token" not in " ".join(run_arguments(req, "e", "x"))
    env = run_environment(req)
    assert json.loads(env["PULUMI_CONFIG"]) == {
        "infrakit:alertWebhookUrl": "https://hooks.example.invalid/secret-token"
    }
    assert json.loads(env["PULUMI_CONFIG_SECRET_KEYS"]) == ["infrakit:sshPrivateKey"]


def test_the_host_serves_the_plugin_protocol_over_grpc() -> None:
    """Started as the engine starts it: prints its port, answers GetPluginInfo and Handshake."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "infrakit.engine.language_host", "127.0.0.1:1"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = language_pb2_grpc.LanguageRuntimeStub(channel)
            info = stub.GetPluginInfo(empty_pb2.Empty(), timeout=10)
            assert info.version == ENGINE_VERSION
            stub.Handshake(language_pb2.LanguageHandshakeRequest(engine_address="127.0.0.1:2"), timeout=10)
            assert stub.GetRequiredPackages(language_pb2.GetRequiredPackagesRequest(), timeout=10).packages == []
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0, "a signal from the engine is a normal end, not a traceback"
