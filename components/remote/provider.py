"""InfraKit's remote resources, as Pulumi dynamic providers: the host, its bundle, each step.

Why not pulumi-command's `remote.Command`: its semantics made the wrong things happen (a
changed key re-ran every command, a re-run of the bundle install failed, a rebuilt host was
never converged, nothing could be refreshed, host keys were not checked). Here each resource
owns its create, update and read, in the way svmkit's resources own theirs:

- `Host` logs in once, pins the host key (from the stack, else the one seen first, kept in
  state) and records the machine id. A connection change (address, port, user, key) updates
  only `Host`, which checks the new connection reaches the same machine; no step re-runs.
- `Bundle` installs the plan's bundle if the host does not hold that digest yet: upload and
  install happen in one operation, so any retry works.
- `Step` runs one step when its hash, its secret input or the host's machine id changed.
  `read` (`pulumi refresh`, `pulumi up --refresh`) reads the hash the host recorded for the
  step: a step whose host-side record differs (a rebuilt host, a failed or hand-reverted
  step) shows up in the next preview and re-runs.

A `pulumi up` with nothing to change makes no SSH connection. Every failure is one message
(no traceback) naming the host and step, with the tail of the step's log, secrets redacted;
the full log stays on this machine under .infrakit/logs/.
"""

from __future__ import annotations

import shlex
import sys
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
from infrakit.plan.bundle import REMOTE_BUNDLE, STATE_DIR, install_command
from infrakit.plan.sources import PROJECT_ROOT

LOG_ROOT = PROJECT_ROOT / ".infrakit" / "logs"
BUNDLE_MARK = "/var/lib/infrakit/bundle.digest"
RUNNER = f"{REMOTE_BUNDLE}/shared/lib/run_step.sh"
TAIL_LINES = 40
ACCESS_KEYS = ("host", "port", "user", "bootstrapUser", "hostKey")


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


def _log_path(stack: str, name: str) -> Path:
    path = LOG_ROOT / stack / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


class HostProvider(ResourceProvider):
    """The machine behind the connection: pinned host key, machine id."""

    def _observe(self, access: Access) -> dict[str, Any]:
        out = session.run(access, "cat /etc/machine-id", as_root=False, timeout=60)
        machine_id = out.output.strip()
        if out.exit_code != 0 or not machine_id:
            raise RemoteError(f"{access.label}: cannot read /etc/machine-id (exit {out.exit_code})")
        return {
            "machineId": machine_id,
            "seenHostKey": session.offered_host_key(access),
            "loginUser": session.login_user(access),
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        access = access_of(props)
        return CreateResult(f"{access.host}:{access.port}", {**props, **self._observe(access)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        diffs = _changed(olds, news, ("access", "privateKey", "serverId"))
        replaces = ["serverId"] if "serverId" in diffs else []
        # A new connection to the same machine keeps its machine id: steps do not re-run.
        return DiffResult(
            changes=bool(diffs),
            replaces=replaces,
            stables=[] if replaces else ["machineId", "seenHostKey"],
            delete_before_replace=False,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        access = access_of(news)
        if not access.host_key and olds.get("seenHostKey"):
            # Same machine, new way in: it must show the key we recorded.
            access = Access(**{**access.__dict__, "host_key": olds["seenHostKey"]})
        seen = self._observe(access)
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
        return DiffResult(changes=bool(diffs))

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
        return DiffResult(changes=bool(diffs))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._run(news))

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


def _install_clean_errors() -> None:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if main is not None and spec is not None and spec.name == "pulumi.dynamic.__main__":
        main.traceback = _CleanErrors()  # type: ignore[attr-defined]


_install_clean_errors()
