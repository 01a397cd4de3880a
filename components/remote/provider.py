"""InfraKit's remote resources, as Pulumi dynamic providers: the host, its bundle, each step.

Why not pulumi-command's `remote.Command`: its semantics made the wrong things happen (a
changed key re-ran every command, a re-run of the bundle install failed, a rebuilt host was
never converged, nothing could be refreshed, host keys were not checked). Here each resource
owns its create, update and read, in the way svmkit's resources own theirs:

- `Host` logs in once, pins the host key (from the stack, else the one seen first, kept in
  state) and records the machine id. A connection change (address, port, user, key) updates
  only `Host`, which checks the new connection reaches the same machine; no step re-runs.
- SSH port migration (runbooks/hardened-host.md): with `access.previousSshPort` the access
  carries a `fallbackPort`, used while sshd does not answer on the new port yet (phase 1:
  sshd and both firewalls on both ports). Without it, `Host` dials only `port` and stops the
  run when sshd does not answer there, before any step could drop the old port: a one-shot
  port change and a too-early phase 2 are refused, never a lock-out.
- `Bundle` installs the plan's bundle if the host does not hold that digest yet: upload and
  install happen in one operation, so any retry works.
- `Step` runs one step when its hash, its secret input or the host's machine id changed.
  `read` (`pulumi refresh`, `pulumi up --refresh`) reads the hash the host recorded for the
  step: a step whose host-side record differs (a rebuilt host, a failed or hand-reverted
  step) shows up in the next preview and re-runs.
- A feature turned off in the stack drops its step from the plan: the preview shows the
  `Step` as a delete, and `delete` turns the feature off on the host (shared/lib/run_off.sh:
  the step's off action shared/off/<step>.sh, then its record removed). Pulumi runs deletes
  after every create and update, so the new bundle (which no longer plans the step) is
  installed by then; the runner refuses to turn off a step the installed plan still has
  (a renamed resource, `pulumi destroy`). `infrakit apply` calls the same runner.

Every diff names the keys that changed (`diffs` and a detailed diff, e.g. `hash`,
`machineId`, `access.port`), so a preview says what will change and why.

A `pulumi up` with nothing to change makes no SSH connection. Every failure is one message
(no traceback) naming the host and step, with the tail of the step's log, secrets redacted;
the full log stays on this machine under .infrakit/logs/.
"""

from __future__ import annotations

import shlex
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN, is_rpc_secret, unwrap_rpc_secret

from components.remote import session
from components.remote.session import Access, RemoteError
from infrakit.plan.bundle import REMOTE_BUNDLE, STATE_DIR, install_command, off_command
from infrakit.plan.firewall import guard_problem
from infrakit.plan.sources import PROJECT_ROOT

LOG_ROOT = PROJECT_ROOT / ".infrakit" / "logs"
BUNDLE_MARK = "/var/lib/infrakit/bundle.digest"
RUNNER = f"{REMOTE_BUNDLE}/shared/lib/run_step.sh"
TAIL_LINES = 40
ACCESS_KEYS = ("host", "port", "user", "bootstrapUser", "hostKey", "fallbackPort")
# Dials of a Host that exists already (an update): it is up, so a silent port is an answer.
UPDATE_DIAL_ATTEMPTS = 2
CLIENT_PREFIX = "infrakit-client-address: "
# Read in the Host's one login: what identifies the machine, and the operator's address as the
# host sees it (sshd's SSH_CONNECTION), for the lock-out guard.
OBSERVE_COMMAND = f"cat /etc/machine-id && printf '\\n{CLIENT_PREFIX}%s\\n' \"${{SSH_CONNECTION%% *}}\""


class StepFailedError(Exception):
    """A step or install that ran and failed: shown as its message alone."""


def access_of(props: Mapping[str, Any]) -> Access:
    """The connection in a resource's properties. On refresh the engine hands state over with
    secrets still wrapped (the private key): unwrap them here, never str() them."""
    a = _plain(props["access"])
    return Access(
        host=str(a["host"]),
        port=int(a["port"]),
        user=str(a["user"]),
        bootstrap_user=str(a.get("bootstrapUser") or ""),
        host_key=str(a.get("hostKey") or ""),
        private_key=str(_plain(props.get("privateKey")) or ""),
        fallback_port=int(a.get("fallbackPort") or 0),
    )


def _port_hint(access: Access, previous: int) -> str:
    """What to do when sshd does not answer on access.port and no fallback is configured."""
    if previous and previous != access.port:
        return (
            f"sshd does not answer on port {access.port} (access.sshPort); it was reached on port "
            f"{previous} before. Nothing was changed. To move SSH to port {access.port} without a "
            f"lock-out, run `pulumi up` with access.previousSshPort: {previous} (sshd and both "
            "firewalls on both ports), check a login on the new port, then remove previousSshPort "
            "and run `pulumi up` again (runbooks/hardened-host.md)"
        )
    return (
        f"sshd does not answer on port {access.port} (access.sshPort). Nothing was changed. If sshd "
        "still listens on another port (a fresh server: 22, or a migration not finished), set "
        "access.previousSshPort to it for this `pulumi up` (runbooks/hardened-host.md)"
    )


def _cidr_hint(guard: Any) -> str:
    """A silent port may also be a firewall dropping this machine (a new cloud server's
    firewall admits only the admin CIDRs, before the Host's login can check the address)."""
    if not isinstance(guard, Mapping):
        return ""
    return (
        f". If sshd does listen there, the firewalls may drop this machine's address: it must be in "
        f"stack '{guard['stack']}' access.adminCidrs ({', '.join(map(str, guard['adminCidrs']))})"
    )


def _redact(text: str, secrets: str) -> str:
    for line in secrets.splitlines():
        _, _, value = line.partition("=")
        if len(value) >= 4:
            text = text.replace(value, "[secret]")
    return text


def _changed(olds: Mapping[str, Any], news: Mapping[str, Any], keys: tuple[str, ...]) -> list[str]:
    """The keys whose value differs. A machine id not known yet (a preview while the Host
    updates its connection) is not a change: an update with a different machine fails in
    Host.update, and a replaced server shows as the Host's own replacement."""
    changed = []
    for key in keys:
        old, new = _plain(olds.get(key)), _plain(news.get(key))
        if key == "machineId" and (isinstance(new, Unknown) or new == UNKNOWN):
            continue
        if old != new:
            changed.append(key)
    return changed


def _plain(value: Any) -> Any:
    """A property as compared: secret or not (the engine may send either), its plain value."""
    return unwrap_rpc_secret(value) if is_rpc_secret(value) else value


class KeyedDiff(DiffResult):
    """A diff that names what changed: `diffs` are property paths ("hash", "access.port")."""

    def __init__(
        self,
        diffs: list[str],
        replaces: list[str] | None = None,
        stables: list[str] | None = None,
        delete_before_replace: bool | None = None,
    ) -> None:
        super().__init__(
            changes=bool(diffs), replaces=replaces or [], stables=stables, delete_before_replace=delete_before_replace
        )
        self.diffs = list(dict.fromkeys(diffs))
        self.added: set[str] = set()  # paths with no old value (shown as "+"), else an update
        self.deleted: set[str] = set()  # paths with no new value (shown as "-")
        _LAST_DIFF.value = self  # read by _KeyedProto.DiffResponse in this thread


def _access_changes(olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], set[str], set[str]]:
    """(`access.<key>` for each connection key that changed, those added, those removed)."""
    old, new = _plain(olds.get("access")), _plain(news.get("access"))
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return ([] if old == new else ["access"]), set(), set()
    keys = sorted(set(old) | set(new))
    paths = [f"access.{k}" for k in keys if old.get(k) != new.get(k)]
    return paths, {f"access.{k}" for k in set(new) - set(old)}, {f"access.{k}" for k in set(old) - set(new)}


def _log_path(stack: str, name: str) -> Path:
    path = LOG_ROOT / stack / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


class HostProvider(ResourceProvider):
    """The machine behind the connection: pinned host key, machine id."""

    def _observe(
        self, access: Access, previous_port: int = 0, *, existing: bool = False, guard: Any = None
    ) -> dict[str, Any]:
        """Log in and read what identifies the machine. `existing`: the host is up (an
        update), so sshd not answering on the port is refused at once, with what to do.
        `guard` (infrakit.plan.firewall.lockout_guard): refuse, before the bundle or any step
        changes the host, a plan whose firewall would lock out the address this login comes
        from (what `infrakit apply` checks in its preflight)."""
        guard = _plain(guard)
        if existing and not access.fallback_port and not session.answers(access.host, access.port):
            raise RemoteError(f"{access.label}: {_port_hint(access, previous_port)}{_cidr_hint(guard)}")
        try:
            out = session.run(access, OBSERVE_COMMAND, as_root=False, timeout=60)
        except RemoteError as exc:
            if "cannot connect" in str(exc) and not access.fallback_port:
                raise RemoteError(f"{exc}; {_port_hint(access, previous_port)}{_cidr_hint(guard)}") from None
            raise
        lines = out.output.splitlines()
        client = next((ln[len(CLIENT_PREFIX) :].strip() for ln in lines if ln.startswith(CLIENT_PREFIX)), "")
        machine_id = next((ln.strip() for ln in lines if ln.strip()), "")
        if out.exit_code != 0 or not machine_id or machine_id.startswith(CLIENT_PREFIX):
            raise RemoteError(f"{access.label}: cannot read /etc/machine-id (exit {out.exit_code})")
        if isinstance(guard, Mapping):
            problem = guard_problem(guard, client, "this `pulumi up`")
            if problem:
                raise RemoteError(f"{access.label}: refused before the bundle and the first step: {problem}")
        return {
            "machineId": machine_id,
            "seenHostKey": session.offered_host_key(access),
            "loginUser": session.login_user(access),
            "loginPort": session.login_port(access),
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        access = access_of(props)
        return CreateResult(
            f"{access.host}:{access.port}", {**props, **self._observe(access, guard=props.get("guard"))}
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        paths, added, deleted = _access_changes(olds, news)
        # guard: the firewall's admin CIDRs or step changed; the update logs in and checks the
        # operator's address before the bundle and the steps (which depend on the Host) run.
        diffs = paths + _changed(olds, news, ("privateKey", "serverId", "guard"))
        replaces = ["serverId"] if "serverId" in diffs else []
        # A new connection to the same machine keeps its machine id: steps do not re-run.
        result = KeyedDiff(
            diffs,
            replaces=replaces,
            stables=[] if replaces else ["machineId", "seenHostKey"],
            delete_before_replace=False,
        )
        result.added, result.deleted = added, deleted
        return result

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        access = access_of(news)
        if not access.host_key and olds.get("seenHostKey"):
            # Same machine, new way in: it must show the key we recorded.
            access = Access(**{**access.__dict__, "host_key": olds["seenHostKey"]})
        # The machine is up: a port that stays silent is not worth 40 dials.
        access = Access(**{**access.__dict__, "dial_attempts": UPDATE_DIAL_ATTEMPTS})
        previous = int(olds.get("loginPort") or access_of(olds).port)
        seen = self._observe(access, previous if previous != access.port else 0, existing=True, guard=news.get("guard"))
        if olds.get("machineId") and seen["machineId"] != olds["machineId"]:
            raise RemoteError(
                f"{access.label} is a different machine (machine id {seen['machineId'][:12]}..., "
                f"recorded {olds['machineId'][:12]}...). If the host was rebuilt at this address, "
                "run `pulumi up --refresh` to converge it from scratch"
            )
        return UpdateResult({**news, **seen})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        access = access_of(props)
        if not access.host_key and props.get("seenHostKey"):
            access = Access(**{**access.__dict__, "host_key": props["seenHostKey"]})
        return ReadResult(id_, {**props, **self._observe(access)})


class BundleProvider(ResourceProvider):
    """The plan's bundle on the host: installed when the host lacks this digest."""

    def _install(self, props: dict[str, Any]) -> dict[str, Any]:
        access, digest = access_of(props), str(props["digest"])
        have = session.run(access, f"cat {BUNDLE_MARK}", timeout=60)
        if have.exit_code == 0 and have.output.strip() == digest:
            return {**props, "installed": digest}
        data = Path(props["path"]).read_bytes()
        remote_tar = f"/tmp/infrakit-bundle-{digest[:16]}.tgz"
        session.upload(access, data, remote_tar)
        script = install_command(remote_tar, digest, sudo=False) + f" && echo {digest} > {BUNDLE_MARK}"
        out = session.run(access, f"sh -c {shlex.quote(script)}", timeout=600)
        if out.exit_code != 0:
            raise StepFailedError(
                f"{access.label}: bundle install failed (exit {out.exit_code}): "
                + "\n".join(out.output.splitlines()[-TAIL_LINES:])
            )
        return {**props, "installed": digest}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"bundle-{props['digest'][:16]}", self._install(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        diffs = _changed(olds, news, ("digest", "machineId"))
        if olds.get("installed") != olds.get("digest"):
            diffs.append("installed")
        return KeyedDiff(diffs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._install(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        out = session.run(access_of(props), f"cat {BUNDLE_MARK}", timeout=60)
        return ReadResult(id_, {**props, "installed": out.output.strip() if out.exit_code == 0 else ""})


class StepProvider(ResourceProvider):
    """One plan step: run when its hash, secret input or machine changed."""

    def _run(self, props: dict[str, Any]) -> dict[str, Any]:
        access, step, digest = access_of(props), str(props["step"]), str(props["hash"])
        stdin = str(props.get("stdin") or "")
        command = f'bash {RUNNER} {step} {digest} "${{SSH_CONNECTION%% *}}"'
        start = time.monotonic()
        out = session.run(access, command, stdin=stdin, timeout=float(props.get("timeout") or 3600))
        text = _redact(out.output, stdin)
        log = _log_path(str(props["stack"]), step)
        log.write_text(text)
        log.chmod(0o600)
        marker = f"infrakit: step={step} changed="
        changed = [line[len(marker) :] for line in text.splitlines() if line.startswith(marker)]
        if out.exit_code != 0 or not changed:
            why = f"exit code {out.exit_code}" if out.exit_code != 0 else f"no '{marker}N' line"
            tail = "\n".join(text.splitlines()[-TAIL_LINES:])
            raise StepFailedError(f"step {step} failed on {access.label} ({why}); full log: {log}\n{tail}")
        return {
            **props,
            "applied": digest,
            "changed": changed[-1] == "1",
            "seconds": round(time.monotonic() - start, 2),
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['step']}-{props['hash'][:12]}", self._run(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        diffs = _changed(olds, news, ("hash", "stdin", "machineId", "step"))
        if olds.get("applied") != olds.get("hash"):
            diffs.append("applied")  # the host's record differs (seen by refresh)
        return KeyedDiff(diffs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._run(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """The step left the plan (a feature turned off): run its off action on the host."""
        access, step = access_of(props), str(props["step"])
        # any_port: this access is the one the step was created with; the Bundle's update in
        # this run (the plan changed) holds a live connection over the current one.
        out = session.run(
            access, off_command(step, sudo=False), timeout=float(props.get("timeout") or 3600), any_port=True
        )
        log = _log_path(str(props["stack"]), f"{step}.off")
        log.write_text(out.output)
        log.chmod(0o600)
        marker = f"infrakit: step={step} changed="
        if out.exit_code != 0 or not any(line.startswith(marker) for line in out.output.splitlines()):
            why = f"exit code {out.exit_code}" if out.exit_code != 0 else f"no '{marker}N' line"
            tail = "\n".join(out.output.splitlines()[-TAIL_LINES:])
            raise StepFailedError(
                f"turning {step} off failed on {access.label} ({why}); full log: {log}\n{tail}\n"
                "The step stays in Pulumi's state: fix the cause and run `pulumi up` again."
            )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        out = session.run(access_of(props), f"cat {STATE_DIR}/{props['step']}.hash", timeout=60)
        applied = out.output.strip() if out.exit_code == 0 else ""
        return ReadResult(id_, {**props, "applied": applied})


class _CleanErrors:
    """In the dynamic-provider process, show our errors as their message, not a traceback."""

    def __getattr__(self, name: str) -> Any:
        return getattr(traceback, name)

    @staticmethod
    def format_exc(*args: Any, **kwargs: Any) -> str:
        exc = sys.exc_info()[1]
        if isinstance(exc, RemoteError | StepFailedError):
            return str(exc)
        return traceback.format_exc(*args, **kwargs)


_LAST_DIFF = threading.local()


class _KeyedDiffResponse:
    """`proto.DiffResponse` as the dynamic-provider server uses it: its constants
    (DIFF_NONE, DIFF_SOME, ...) as they are; a response built also carries the `diffs` and
    detailed diff of the KeyedDiff the provider returned in this thread."""

    def __init__(self, real: Any, property_diff: Any) -> None:
        self._real = real
        self._property_diff = property_diff

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __call__(self, **fields: Any) -> Any:
        response = self._real(**fields)
        result = getattr(_LAST_DIFF, "value", None)
        _LAST_DIFF.value = None
        if not isinstance(result, KeyedDiff) or not result.diffs:
            return response
        replaces = set(result.replaces or [])
        kinds = self._property_diff
        response.diffs.extend(dict.fromkeys(path.split(".")[0] for path in result.diffs))
        for path in result.diffs:
            kind = kinds.UPDATE_REPLACE if path.split(".")[0] in replaces else kinds.UPDATE
            if path in result.added:
                kind = kinds.ADD
            elif path in result.deleted:
                kind = kinds.DELETE
            response.detailedDiff[path].CopyFrom(kinds(kind=kind, inputDiff=path not in ("applied", "installed")))
        response.hasDetailedDiff = True
        return response


class _KeyedProto:
    """`pulumi.runtime.proto` as the dynamic-provider server sees it, except DiffResponse
    (_KeyedDiffResponse): the SDK's DiffResult has no field for the changed keys, so a
    preview could only say "update", not what changed. The gRPC handlers were bound when the
    server started, so the module they read is what can be extended."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.DiffResponse = _KeyedDiffResponse(real.DiffResponse, real.PropertyDiff)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _install_provider_hooks() -> None:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if main is None or spec is None or spec.name != "pulumi.dynamic.__main__":
        return
    main.traceback = _CleanErrors()  # type: ignore[attr-defined]
    if not isinstance(getattr(main, "proto", None), _KeyedProto):
        main.proto = _KeyedProto(main.proto)  # type: ignore[attr-defined]


_install_provider_hooks()
