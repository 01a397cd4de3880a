"""Bash-level tests of the shell library (shared/lib/*.sh), run locally in a temp dir (no root-only effects).

The library decides whether a host "changed", whether a bad input stops a step, and
whether a secret can leak; each test names the property it protects.
"""

from __future__ import annotations

import hashlib
import http.server
import shlex
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.shared.conftest import BashRunner, StepDir, owner


def last_line(out: str) -> str:
    return out.rstrip("\n").splitlines()[-1]


# ------------------------------------------------------------------ ik_write_file ----

def test_write_file_creates_then_is_a_noop(bash: BashRunner, tmp_path: Path) -> None:
    """Write-if-changed is what makes a second run report changed=0 and touch nothing."""
    (tmp_path / "src").write_text("hello\n")
    dest = tmp_path / "sub" / "dir" / "dest.conf"
    r = bash(f"""
        if ik_write_file src {dest} 0640 {owner()}; then echo first=changed; fi
        if ik_write_file src {dest} 0640 {owner()}; then echo second=changed; else echo second=same; fi
        ik_done""")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["first=changed", "second=same", "infrakit: step=t_step changed=1"]
    assert dest.read_text() == "hello\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert stat.S_IMODE(dest.parent.stat().st_mode) == 0o755


def test_write_file_unchanged_run_reports_changed_0(bash: BashRunner, tmp_path: Path) -> None:
    (tmp_path / "src").write_text("x\n")
    dest = tmp_path / "dest"
    dest.write_text("x\n")
    dest.chmod(0o644)
    mtime = dest.stat().st_mtime_ns
    r = bash(f"ik_write_file src {dest} 0644 {owner()} || true; ik_done")
    assert last_line(r.stdout) == "infrakit: step=t_step changed=0"
    assert dest.stat().st_mtime_ns == mtime, "an unchanged file must not be rewritten"


def test_write_file_fixes_mode_only(bash: BashRunner, tmp_path: Path) -> None:
    (tmp_path / "src").write_text("x\n")
    dest = tmp_path / "dest"
    dest.write_text("x\n")
    dest.chmod(0o666)
    r = bash(f"ik_write_file src {dest} 0600 {owner()} && echo changed; ik_done")
    assert r.stdout.splitlines()[0] == "changed"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_write_file_replaces_a_symlink_instead_of_following_it(bash: BashRunner, tmp_path: Path) -> None:
    """A user-controlled symlink at the destination must not redirect a root write."""
    (tmp_path / "src").write_text("new\n")
    target = tmp_path / "target"
    target.write_text("precious\n")
    dest = tmp_path / "dest"
    dest.symlink_to(target)
    r = bash(f"ik_write_file src {dest} 0644 {owner()}; ik_done")
    assert r.returncode == 0, r.stderr
    assert not dest.is_symlink() and dest.read_text() == "new\n"
    assert target.read_text() == "precious\n"


def test_write_file_rejects_bad_arguments(bash: BashRunner, tmp_path: Path) -> None:
    (tmp_path / "src").write_text("x\n")
    for args, message in [
        (f"src relative/path 0644 {owner()}", "absolute file path"),
        (f"src {tmp_path}/d 644x {owner()}", "is not octal"),
        (f"src {tmp_path}/d 0644 nosuchuser-ik:root", "no such user"),
        (f"missing {tmp_path}/d 0644 {owner()}", "not a readable file"),
    ]:
        r = bash(f"ik_write_file {args}")
        assert r.returncode == 1 and message in r.stderr, (args, r.stderr)


def test_write_file_as_a_plain_statement_explains_the_predicate(bash: BashRunner, tmp_path: Path) -> None:
    """Returning 1 for "unchanged" under set -e must not fail silently."""
    (tmp_path / "src").write_text("x\n")
    (tmp_path / "dest").write_text("x\n")
    (tmp_path / "dest").chmod(0o644)
    r = bash(f"ik_write_file src {tmp_path}/dest 0644 {owner()}\necho not-reached")
    assert r.returncode == 1
    assert "not-reached" not in r.stdout
    assert "return 1 when nothing changed" in r.stderr


def test_rollback_restores_content_mode_and_removes_new_files(bash: BashRunner, tmp_path: Path) -> None:
    """Validation failures (sshd -t, visudo, fail2ban -t) roll back to the pre-run state."""
    (tmp_path / "src").write_text("new\n")
    old = tmp_path / "old.conf"
    old.write_text("old\n")
    old.chmod(0o600)
    new = tmp_path / "created.conf"
    r = bash(f"""
        ik_write_file src {old} 0644 {owner()}
        printf 'newer\\n' > src
        ik_write_file src {old} 0644 {owner()}
        ik_write_file src {new} 0644 {owner()}
        ik_rollback_files
        ik_done""")
    assert r.returncode == 0, r.stderr
    assert old.read_text() == "old\n" and stat.S_IMODE(old.stat().st_mode) == 0o600
    assert not new.exists()
    assert "rolled back" in r.stderr
    assert not list(tmp_path.glob("infrakit-rollback.*")), "the rollback copies must be removed at exit"


def test_no_backup_when_rollback_is_off(bash: BashRunner, tmp_path: Path) -> None:
    """install_env turns backups off so no copy of a secret-bearing file is made."""
    (tmp_path / "src").write_text("new\n")
    (tmp_path / "dest").write_text("SECRET=old\n")
    r = bash(f"IK_ROLLBACK=0; ik_write_file src {tmp_path}/dest 0600 {owner()}\n"
             'ls -d "$TMPDIR"/infrakit-rollback.* || true')
    assert "infrakit-rollback" not in r.stdout


# ------------------------------------------------------------- rendered files ----

def test_install_file_uses_files_tsv(bash: BashRunner, step_dir: StepDir, tmp_path: Path) -> None:
    dest = tmp_path / "etc" / "app.conf"
    step_dir.add_file("app.conf", "key=1\n", dest, mode="0600")
    r = bash("ik_install_file app.conf && echo installed; ik_install_file app.conf || echo same; ik_done",
             env={"IK_STEP_DIR": str(step_dir.path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:2] == ["installed", "same"]
    assert dest.read_text() == "key=1\n" and stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_install_all_files(bash: BashRunner, step_dir: StepDir, tmp_path: Path) -> None:
    step_dir.add_file("a", "A\n", tmp_path / "out" / "a")
    step_dir.add_file("b", "B\n", tmp_path / "out" / "b")
    env = {"IK_STEP_DIR": str(step_dir.path)}
    first = bash("ik_install_all_files && echo changed; ik_done", env=env)
    second = bash("ik_install_all_files || echo same; ik_done", env=env)
    assert first.stdout.splitlines()[0] == "changed"
    assert second.stdout.splitlines() == ["same", "infrakit: step=t_step changed=0"]
    assert (tmp_path / "out" / "b").read_text() == "B\n"


def test_ik_file_refuses_missing_and_traversal(bash: BashRunner, step_dir: StepDir) -> None:
    env = {"IK_STEP_DIR": str(step_dir.path)}
    assert "missing from the bundle" in bash("ik_file nope", env=env).stderr
    assert "bad rendered file name" in bash("ik_file ../../etc/passwd", env=env).stderr
    assert "run_step.sh" in bash("ik_file x").stderr, "without IK_STEP_DIR the message says how to run it"


# ------------------------------------------------------------------ params.env ----

TRICKY = {
    "PLAIN": "abc",
    "SPACES": "apt-listchanges ca-certificates chrony",
    "QUOTE": "it's",
    "EMPTY": "",
    "SHELLY": "$(touch pwned) `id` ; rm -rf / && echo $HOME",
    "CIDRS": "10.0.0.0/8 2001:db8::/32",
}


def test_params_round_trip_shlex_quote(bash: BashRunner, tmp_path: Path) -> None:
    """params.env is written with shlex.quote (infrakit.plan.bundle); every value must come
    back byte-identical and nothing in it may execute."""
    (tmp_path / "params.env").write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in TRICKY.items()))
    r = bash("ik_load_params params.env\n" + "\n".join(f'printf "%s\\0" "${k}"' for k in TRICKY)
             + "\nbash -c 'printf \"%s\" \"$SHELLY\"' > exported")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\0")[:-1] == list(TRICKY.values())
    assert (tmp_path / "exported").read_text() == TRICKY["SHELLY"], "params are exported to child processes"
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(("content", "message"), [
    ("A=$(id)\n", "not a single-quoted shell word"),
    ("A='unterminated\n", "not a single-quoted shell word"),
    ("A=1\nA=2\n", "set twice"),
    ("lower=1\n", "must be UPPER_CASE"),
    ("PATH=/tmp\n", "reserved"),
    ("IK_STEP=x\n", "reserved"),
    ("LD_PRELOAD=/x.so\n", "reserved"),
    ("just text\n", "expected KEY='value'"),
])
def test_params_rejects(bash: BashRunner, tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "params.env").write_text(content)
    r = bash("ik_load_params params.env; echo loaded")
    assert r.returncode == 2, r.stdout
    assert message in r.stderr


def test_params_allows_blank_and_comment_lines(bash: BashRunner, tmp_path: Path) -> None:
    (tmp_path / "params.env").write_text("# comment\n\nA='1'\n")
    r = bash('ik_load_params params.env; echo "$A"')
    assert r.stdout == "1\n"


# ---------------------------------------------------------------- stdin secrets ----

SECRET = "s3cr3t-value-never-printed"


def _secrets(bash: BashRunner, tmp_path: Path, names: str, stdin: str) -> tuple[int, str, str]:
    (tmp_path / "names").write_text(names)
    r = bash('ik_read_secrets names; printf "%s|%s" "${S1:-}" "${S2:-}"', stdin=stdin)
    return r.returncode, r.stdout, r.stderr


def test_secrets_exact_names(bash: BashRunner, tmp_path: Path) -> None:
    rc, out, err = _secrets(bash, tmp_path, "S1\nS2\n", f"S2=b=c d\nS1={SECRET}\n")
    assert rc == 0, err
    assert out == f"{SECRET}|b=c d"
    assert SECRET not in err


def test_secrets_last_line_without_newline(bash: BashRunner, tmp_path: Path) -> None:
    rc, out, _ = _secrets(bash, tmp_path, "S1\n", f"S1={SECRET}")
    assert rc == 0 and out == f"{SECRET}|"


@pytest.mark.parametrize(("stdin", "message"), [
    (f"S1=a\nS2=b\nS3={SECRET}\n", "unexpected secret S3"),
    (f"S1={SECRET}\n", "S2 was not given"),
    (f"S1={SECRET}\nS1=again\nS2=b\n", "given twice"),
    ("S1=a\nS2=\n", "S2 is empty"),
    (f"S1=a\n{SECRET}\nS2=b\n", "is not NAME=value"),
    (f"S1=a\n\nS2={SECRET}\n", "is not NAME=value"),
    (f"s1={SECRET}\n", "is not NAME=value"),
])
def test_secrets_rejects_anything_else_without_echoing(bash: BashRunner, tmp_path: Path, stdin: str,
                                                      message: str) -> None:
    """Anything but the listed names is an error, and the error never shows a value."""
    rc, out, err = _secrets(bash, tmp_path, "S1\nS2\n", stdin)
    assert rc == 4
    assert message in err
    assert SECRET not in err and SECRET not in out


def test_secret_names_cannot_be_reserved(bash: BashRunner, tmp_path: Path) -> None:
    rc, _, err = _secrets(bash, tmp_path, "PATH\n", "PATH=/tmp\n")
    assert rc == 2 and "reserved" in err


# ------------------------------------------------------------------ checks ----

@pytest.mark.parametrize(("os_release", "ok"), [
    ('ID=debian\nVERSION_ID="12"\n', True),
    ('ID=ubuntu\nVERSION_ID="22.04"\n', True),
    ("ID=ubuntu\nVERSION_ID='24.04'\n", True),
    ('ID=ubuntu\nVERSION_ID="20.04"\n', False),
    ('ID=debian\nVERSION_ID="11"\n', False),
    ('ID=debian\n', False),
    ('ID="centos"\nVERSION_ID="9"\n', False),
])
def test_require_os(bash: BashRunner, tmp_path: Path, os_release: str, ok: bool) -> None:
    (tmp_path / "os-release").write_text(os_release)
    env = {"IK_OS_RELEASE_FILE": str(tmp_path / "os-release")}
    r = bash('ik_require_os; echo "ok $IK_OS_ID $IK_OS_VERSION"', env=env)
    if ok:
        assert r.returncode == 0 and r.stdout.startswith("ok "), r.stderr
    else:
        assert r.returncode == 1
        assert "unsupported OS" in r.stderr and "supported: debian 12, ubuntu 22.04, ubuntu 24.04" in r.stderr


def test_require_env_names_the_variable(bash: BashRunner) -> None:
    r = bash("ik_require_env FOO BAR", env={"FOO": "x", "BAR": ""})
    assert r.returncode == 1 and "BAR" in r.stderr and "FOO" not in r.stderr


def test_die_exit_code_and_logging(bash: BashRunner) -> None:
    r = bash('ik_log hello; ik_warn careful; ik_die "bad thing" 7')
    assert r.returncode == 7
    assert r.stdout == "", "logs go to stderr; stdout is for machine-readable lines"
    assert "infrakit[t_step]: hello" in r.stderr
    assert "WARNING: careful" in r.stderr and "ERROR: bad thing" in r.stderr


def test_done_is_the_last_line_and_uses_ik_step(bash: BashRunner) -> None:
    r = bash("ik_changed; ik_done", env={"IK_STEP": "harden_ssh"})
    assert r.stdout == "infrakit: step=harden_ssh changed=1\n"


def test_help_prints_the_header(bash: BashRunner) -> None:
    r = bash('ik_args --help; echo "not reached"')
    assert r.returncode == 0
    assert r.stdout == "t_step.sh: a test script.\n  FOO  an input\n"


def test_failed_command_is_reported(bash: BashRunner) -> None:
    r = bash("false\necho not-reached")
    assert r.returncode == 1
    assert "command failed (exit 1)" in r.stderr and "not-reached" not in r.stdout


def test_tmpfile_is_removed_at_exit(bash: BashRunner, tmp_path: Path) -> None:
    r = bash('ik_tmpfile t; ik_tmpdir d; echo "$t $d"; [[ -f $t && -d $d ]]')
    assert r.returncode == 0
    for path in r.stdout.split():
        assert not Path(path).exists()


# -------------------------------------------------------------- download ----

@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()


def test_download_verify(bash: BashRunner, http_server: tuple[str, Path], tmp_path: Path) -> None:
    url, root = http_server
    (root / "tool").write_bytes(b"binary\n")
    digest = hashlib.sha256(b"binary\n").hexdigest()
    dest = tmp_path / "opt" / "tool"
    r = bash(f"ik_download_verify {url}/tool {digest} {dest} 0755 && echo got; "
             f"ik_download_verify {url}/tool {digest.upper()} {dest} 0755 || echo same; ik_done")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["got", "same", "infrakit: step=t_step changed=1"]
    assert dest.read_bytes() == b"binary\n" and stat.S_IMODE(dest.stat().st_mode) == 0o755


def test_download_mismatch_leaves_nothing(bash: BashRunner, http_server: tuple[str, Path], tmp_path: Path) -> None:
    """A checksum mismatch fails closed: non-zero, and no file (or temp file) left behind."""
    url, root = http_server
    (root / "tool").write_bytes(b"tampered\n")
    dest = tmp_path / "opt" / "tool"
    r = bash(f"ik_download_verify {url}/tool {'0' * 64} {dest}")
    assert r.returncode == 1 and "sha256 mismatch" in r.stderr
    assert list((tmp_path / "opt").iterdir()) == []


def test_download_rejects_bad_input(bash: BashRunner, tmp_path: Path) -> None:
    assert "not a sha256" in bash(f"ik_download_verify https://example.invalid/x abc {tmp_path}/x").stderr
    assert "bad URL" in bash(f"ik_download_verify file:///etc/passwd {'0' * 64} {tmp_path}/x").stderr


# ------------------------------------------------------------------ versions.sh ----

def test_swap_link_moves_current_in_one_rename_and_link_target_reads_it(bash: BashRunner, tmp_path: Path) -> None:
    """The artifact kinds (binary, npm, OCI) roll forward and back by these two links: a
    missing link reads as "nothing installed", and a swap leaves no temporary link behind."""
    root = tmp_path / "tool"
    (root / "1.0.0").mkdir(parents=True)
    (root / "1.1.0").mkdir()
    r = bash(f"""
        echo "none=[$(ik_link_target {root}/current)]"
        ik_swap_link {root}/current 1.0.0
        echo "first=$(ik_link_target {root}/current)"
        ik_swap_link {root}/previous "$(ik_link_target {root}/current)"
        ik_swap_link {root}/current 1.1.0
        echo "now=$(ik_link_target {root}/current) previous=$(ik_link_target {root}/previous)"
        echo "dir=[$(ik_link_target {root}/1.0.0)]"
        """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["none=[]", "first=1.0.0", "now=1.1.0 previous=1.0.0", "dir=[]"]
    assert sorted(p.name for p in root.iterdir()) == ["1.0.0", "1.1.0", "current", "previous"]


@pytest.mark.parametrize(
    ("a", "b", "gt"),
    [("1.10.0", "1.9.9", True), ("1.0.0", "1.0.0-rc.1", True), ("1.0.0-rc.1", "1.0.0", False),
     ("2.0.0", "2.0.0", False), ("0.9.0", "1.0.0", False), ("4.1.2", "4.1.2-beta.3", True)],
)
def test_version_gt_orders_semver_with_prereleases_first(bash: BashRunner, a: str, b: str, gt: bool) -> None:
    """A downgrade guard reads this: 1.0.0-rc.1 must sort before 1.0.0, 1.10 after 1.9."""
    r = bash(f"if ik_version_gt {a} {b}; then echo gt; else echo not; fi")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("gt" if gt else "not")
