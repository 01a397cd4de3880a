"""The remote resources' decisions, without a host: what re-runs, what is only recorded, what
an error shows. (The same resources run for real in tests/engine/.)"""

from __future__ import annotations

import sys
import traceback
from types import ModuleType

import paramiko
import pytest
from pulumi.output import Unknown
from pulumi.runtime import proto
from pulumi.runtime.rpc import UNKNOWN, wrap_rpc_secret

from components.remote import provider, session
from components.remote.provider import BundleProvider, HostProvider, StepFailedError, StepProvider
from components.remote.session import Access, RemoteError, _Pinned, fingerprint, key_text

ACCESS = {"host": "192.0.2.10", "port": 22, "user": "ops", "bootstrapUser": "", "hostKey": ""}
STEP = {
    "stack": "s",
    "step": "sysctl",
    "hash": "a" * 64,
    "access": ACCESS,
    "privateKey": "",
    "machineId": "m1",
    "stdin": "",
    "applied": "a" * 64,
}


def step_diff(**news: object) -> tuple[bool, list[str]]:
    olds = dict(STEP)
    result = StepProvider().diff("id", olds, {**{k: v for k, v in STEP.items() if k != "applied"}, **news})
    return bool(result.changes), list(result.replaces or [])


def test_a_step_reruns_when_its_hash_its_secret_input_or_the_machine_changes() -> None:
    assert step_diff() == (False, [])
    assert step_diff(hash="b" * 64) == (True, [])
    assert step_diff(stdin="ALERT_WEBHOOK_URL=x\n") == (True, [])
    assert step_diff(machineId="m2") == (True, [])


def test_a_connection_change_alone_reruns_no_step() -> None:
    """Key rotation, a new address or port, pinning the host key: the Host checks the new
    connection; the steps' work on the host is unchanged."""
    assert step_diff(access={**ACCESS, "port": 2222, "hostKey": "ssh-ed25519 AAAA"}) == (False, [])
    assert step_diff(privateKey="-----BEGIN OPENSSH PRIVATE KEY-----") == (False, [])


def test_a_machine_id_not_known_in_preview_is_not_a_change() -> None:
    """As the dynamic provider hands unknowns over (an Unknown object), or as the wire has it."""
    assert step_diff(machineId=Unknown()) == (False, [])
    assert step_diff(machineId=UNKNOWN, access=Unknown()) == (False, [])


def test_a_secret_wrapped_value_compares_by_its_value() -> None:
    assert step_diff(stdin=wrap_rpc_secret("")) == (False, [])
    assert step_diff(stdin=wrap_rpc_secret("X=1\n")) == (True, [])


def test_a_host_side_record_that_differs_reruns_the_step() -> None:
    """What `pulumi up --refresh` finds: read() put the host's recorded hash in `applied`."""
    olds = {**STEP, "applied": ""}
    news = {k: v for k, v in STEP.items() if k != "applied"}
    assert StepProvider().diff("id", olds, news).changes


def test_host_replaced_only_when_the_server_is_replaced() -> None:
    olds = {"access": ACCESS, "privateKey": "", "serverId": "1", "machineId": "m", "seenHostKey": "k"}
    moved = HostProvider().diff(
        "id", olds, {"access": {**ACCESS, "host": "192.0.2.11"}, "privateKey": "", "serverId": "1"}
    )
    assert moved.changes and not moved.replaces
    rebuilt = HostProvider().diff("id", olds, {"access": ACCESS, "privateKey": "", "serverId": "2"})
    assert rebuilt.replaces == ["serverId"]


def test_bundle_reinstalls_when_digest_or_machine_changes_or_the_host_lost_it() -> None:
    olds = {"digest": "d1", "machineId": "m", "installed": "d1"}
    assert not BundleProvider().diff("id", olds, {"digest": "d1", "machineId": "m"}).changes
    assert BundleProvider().diff("id", olds, {"digest": "d2", "machineId": "m"}).changes
    assert BundleProvider().diff("id", {**olds, "installed": ""}, {"digest": "d1", "machineId": "m"}).changes


def test_secret_values_are_redacted_from_step_output() -> None:
    text = "calling https://hooks.example.invalid/tok-123 failed\n"
    assert (
        provider._redact(text, "ALERT_WEBHOOK_URL=https://hooks.example.invalid/tok-123\n")
        == "calling [secret] failed\n"
    )


def test_pinned_host_key_mismatch_is_refused_with_both_fingerprints() -> None:
    offered = paramiko.Ed25519Key.generate() if hasattr(paramiko.Ed25519Key, "generate") else None
    if offered is None:
        offered = paramiko.ECDSAKey.generate()
    other = paramiko.ECDSAKey.generate()
    policy = _Pinned(Access("192.0.2.10", 22, "ops", host_key=key_text(other)))
    with pytest.raises(RemoteError, match="refusing to connect") as info:
        policy.missing_host_key(paramiko.SSHClient(), "192.0.2.10", offered)
    assert fingerprint(key_text(other)) in str(info.value) and fingerprint(key_text(offered)) in str(info.value)
    accepted = _Pinned(Access("192.0.2.10", 22, "ops", host_key=key_text(offered)))
    accepted.missing_host_key(paramiko.SSHClient(), "192.0.2.10", offered)
    assert accepted.seen == key_text(offered)


def test_errors_show_as_one_message_in_the_provider_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dynamic-provider server formats exceptions with traceback.format_exc(): ours show
    as their message alone, anything else keeps its traceback."""
    fake_main = ModuleType("__main__")
    fake_main.__spec__ = type("Spec", (), {"name": "pulumi.dynamic.__main__"})()  # type: ignore[assignment]
    fake_main.traceback = traceback  # type: ignore[attr-defined]
    fake_main.proto = proto  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    provider._install_provider_hooks()
    shim = fake_main.traceback  # type: ignore[attr-defined]
    try:
        raise StepFailedError("step sysctl failed on ops@192.0.2.10:22 (exit code 1)")
    except StepFailedError:
        assert shim.format_exc() == "step sysctl failed on ops@192.0.2.10:22 (exit code 1)"
    try:
        raise KeyError("bug")
    except KeyError:
        assert "Traceback" in shim.format_exc()


def test_a_refresh_hands_the_private_key_over_wrapped_and_it_is_unwrapped() -> None:
    """read() gets state with secrets still wrapped; str() of the wrapper is no key at all."""
    access = provider.access_of({"access": wrap_rpc_secret(ACCESS), "privateKey": wrap_rpc_secret("KEY-TEXT")})
    assert access.private_key == "KEY-TEXT" and access.host == "192.0.2.10"


def test_every_diff_names_what_changed() -> None:
    """A preview says why: the keys (property paths) that moved, not only "update"."""
    news = {k: v for k, v in STEP.items() if k != "applied"}
    assert StepProvider().diff("id", STEP, {**news, "hash": "b" * 64}).diffs == ["hash"]  # type: ignore[attr-defined]
    assert StepProvider().diff("id", {**STEP, "applied": ""}, news).diffs == ["applied"]  # type: ignore[attr-defined]
    olds = {"access": ACCESS, "privateKey": "", "serverId": "", "machineId": "m", "seenHostKey": "k"}
    moved = HostProvider().diff(
        "id", olds, {"access": {**ACCESS, "port": 2222, "fallbackPort": 22}, "privateKey": "", "serverId": ""}
    )
    assert moved.diffs == ["access.fallbackPort", "access.port"]  # type: ignore[attr-defined]
    assert moved.added == {"access.fallbackPort"}  # type: ignore[attr-defined]


def test_the_diff_response_carries_the_keys_and_a_detailed_diff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's DiffResult has no field for them: the hook adds them to the gRPC response."""
    keyed = provider._KeyedProto(proto)
    provider.KeyedDiff(["access.port"], replaces=[])
    response = keyed.DiffResponse(changes=proto.DiffResponse.DIFF_SOME)
    assert list(response.diffs) == ["access"] and response.hasDetailedDiff
    assert response.detailedDiff["access.port"].kind == proto.PropertyDiff.UPDATE
    plain = keyed.DiffResponse(changes=proto.DiffResponse.DIFF_NONE)  # no KeyedDiff pending
    assert not plain.hasDetailedDiff and not list(plain.diffs)
    # the server reads the constants through the same name (dynamic/__main__.py Diff)
    assert keyed.DiffResponse.DIFF_NONE == proto.DiffResponse.DIFF_NONE
    assert keyed.DiffResponse.DIFF_SOME == proto.DiffResponse.DIFF_SOME
    assert keyed.DiffResponse.DIFF_UNKNOWN == proto.DiffResponse.DIFF_UNKNOWN


def test_delete_turns_the_step_off_over_any_live_connection(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    calls: list[tuple[str, bool]] = []

    def run(access: Access, command: str, **kw: object) -> session.Outcome:
        calls.append((command, bool(kw.get("any_port"))))
        return session.Outcome(0, "infrakit[fail2ban]: stopped\ninfrakit: step=fail2ban changed=1\n", 0.1)

    monkeypatch.setattr(provider, "LOG_ROOT", tmp_path)
    monkeypatch.setattr(session, "run", run)
    StepProvider().delete("id", {**STEP, "step": "fail2ban"})
    assert calls == [("bash /var/lib/infrakit/bundle/shared/lib/run_off.sh fail2ban", True)]


def test_a_failed_off_action_stops_the_delete_with_one_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setattr(provider, "LOG_ROOT", tmp_path)
    monkeypatch.setattr(session, "run", lambda *a, **k: session.Outcome(1, "boom\n", 0.1))
    with pytest.raises(StepFailedError, match=r"turning fail2ban off failed .*exit code 1"):
        StepProvider().delete("id", {**STEP, "step": "fail2ban"})


def test_a_one_shot_port_change_is_refused_before_any_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """sshPort 22 -> 2222 without previousSshPort: sshd is silent on 2222, the Host stops
    the run (steps depend on it) and says how to migrate; nothing was dialled or run."""
    monkeypatch.setattr(session, "answers", lambda host, port, timeout=3.0: port == 22)
    monkeypatch.setattr(session, "run", lambda *a, **k: pytest.fail("ran a command"))
    olds = {"access": ACCESS, "privateKey": "", "serverId": "", "machineId": "m", "seenHostKey": "k", "loginPort": 22}
    news = {"access": {**ACCESS, "port": 2222}, "privateKey": "", "serverId": ""}
    with pytest.raises(RemoteError, match=r"previousSshPort: 22.*runbooks/hardened-host.md"):
        HostProvider().update("id", olds, news)


def test_the_migration_connects_on_the_old_port_until_the_new_one_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    dialled: list[int] = []
    monkeypatch.setattr(session, "_login", lambda a: (dialled.append(a.port), (object(), a.user, "k"))[1])
    monkeypatch.setattr(session, "answers", lambda host, port, timeout=3.0: False)
    access = Access("192.0.2.10", 2222, "ops", fallback_port=22)
    assert session._connect(access)[3] == 22
    monkeypatch.setattr(session, "answers", lambda host, port, timeout=3.0: True)
    assert session._connect(access)[3] == 2222
    assert dialled == [22, 2222]


GUARD = {"stack": "s", "adminCidrs": ["198.51.100.0/24", "2001:db8:42::/48"], "sshPort": 22}


def observing(monkeypatch: pytest.MonkeyPatch, client: str) -> list[str]:
    """A host whose login reports `client` as the operator's address; the commands it ran."""
    commands: list[str] = []

    def run(access: Access, command: str, **kw: object) -> session.Outcome:
        commands.append(command)
        return session.Outcome(0, f"m1\n{provider.CLIENT_PREFIX}{client}\n", 0.1)

    monkeypatch.setattr(session, "run", run)
    monkeypatch.setattr(session, "answers", lambda host, port, timeout=3.0: True)
    monkeypatch.setattr(session, "offered_host_key", lambda a: "k")
    monkeypatch.setattr(session, "login_user", lambda a: a.user)
    monkeypatch.setattr(session, "login_port", lambda a: a.port)
    return commands


@pytest.mark.parametrize("client", ["192.0.2.77", "::ffff:192.0.2.77", "2001:db8:1::5"])
def test_pulumi_up_refuses_a_plan_that_locks_the_operator_out_before_anything_changes(
    monkeypatch: pytest.MonkeyPatch, client: str
) -> None:
    """The Pulumi path's preflight, as `infrakit apply` has it: the Host's one login reads the
    address the host sees and refuses; the bundle and every step depend on the Host, so
    nothing on the host changed (one read-only command ran). Without it the sshd and sysctl
    steps ran before the firewall step's own guard refused the rule set."""
    commands = observing(monkeypatch, client)
    props = {"access": ACCESS, "privateKey": "", "serverId": "", "guard": GUARD}
    with pytest.raises(RemoteError) as info:
        HostProvider().create(props)
    message = str(info.value)
    assert "refused before the bundle and the first step" in message
    assert "stack 's' access.adminCidrs (198.51.100.0/24, 2001:db8:42::/48)" in message, "names stack and key"
    assert "Nothing was changed" in message and "port 22" in message
    assert commands == [provider.OBSERVE_COMMAND], "only the read-only identification ran"


def test_a_changed_guard_is_checked_again_by_the_hosts_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """Day 2: narrowing adminCidrs on a converged host. The guard is a Host input, so its
    change makes the Host update (a login and the check) before the bundle and the steps."""
    narrowed = {**GUARD, "adminCidrs": ["203.0.113.0/24"]}
    olds = {
        "access": ACCESS,
        "privateKey": "",
        "serverId": "",
        "guard": GUARD,
        "machineId": "m1",
        "seenHostKey": "k",
        "loginPort": 22,
    }
    news = {"access": ACCESS, "privateKey": "", "serverId": "", "guard": narrowed}
    diff = HostProvider().diff("id", olds, news)
    assert diff.changes and "guard" in diff.diffs and not diff.replaces
    assert set(diff.stables or []) >= {"machineId", "seenHostKey"}, "the steps see no change of machine"
    observing(monkeypatch, "198.51.100.9")
    with pytest.raises(RemoteError, match=r"this `pulumi up` comes from 198\.51\.100\.9.*'s' access\.adminCidrs"):
        HostProvider().update("id", olds, news)
    assert HostProvider().diff("id", olds, {**news, "guard": GUARD}).changes is False, "no change: no login"


@pytest.mark.parametrize("client", ["198.51.100.9", "::ffff:198.51.100.9", "2001:db8:42::9", ""])
def test_an_operator_inside_the_admin_cidrs_passes_the_hosts_guard(
    monkeypatch: pytest.MonkeyPatch, client: str
) -> None:
    observing(monkeypatch, client)
    result = HostProvider().create({"access": ACCESS, "privateKey": "", "serverId": "", "guard": GUARD})
    assert result.outs["machineId"] == "m1"
    result = HostProvider().create({"access": ACCESS, "privateKey": "", "serverId": "", "guard": None})
    assert result.outs["machineId"] == "m1", "a plan without a host firewall has no guard"


def test_a_silent_port_names_the_admin_cidrs_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new cloud server's firewall admits only the admin CIDRs, so an operator outside them
    sees a silent port before the Host's login could check the address: say both causes."""

    def refused(*a: object, **k: object) -> session.Outcome:
        raise RemoteError("ops@192.0.2.10:22: cannot connect (timed out)")

    monkeypatch.setattr(session, "run", refused)
    with pytest.raises(RemoteError) as info:
        HostProvider().create({"access": ACCESS, "privateKey": "", "serverId": "1", "guard": GUARD})
    message = str(info.value)
    assert "sshd does not answer on port 22" in message
    assert "stack 's' access.adminCidrs (198.51.100.0/24, 2001:db8:42::/48)" in message, message
