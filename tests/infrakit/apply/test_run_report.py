"""One summary per apply, true to what happened, and a JSON report of the whole run."""

from __future__ import annotations

from infrakit.apply.executor import ApplyReport, StepReport
from infrakit.apply.run import ConnectionRecord, Phase, RunReport


def cold_run() -> RunReport:
    """What a first apply with --bootstrap-user does: probe refused, bootstrap, converge."""
    boot = ApplyReport(
        "lab",
        "root@h",
        "b1",
        [StepReport("base_packages", "ok", True, 20.0, 0), StepReport("create_user", "ok", True, 0.1, 0)],
        ssh_sessions=3,
        bytes_uploaded=1000,
    )
    conv = ApplyReport(
        "lab",
        "ops@h",
        "b1",
        [
            StepReport("base_packages", "ok", False, 0.1, 0),
            StepReport("create_user", "ok", False, 0.1, 0),
            StepReport("harden_ssh", "ok", True, 0.2, 0),
            StepReport("sysctl", "ok", False, 0.1, 0),
        ],
        ssh_sessions=5,
        bytes_uploaded=1000,
    )
    run = RunReport("lab", "/tmp/x.log", [Phase("bootstrap", boot), Phase("converge", conv)])
    run.connections = [
        ConnectionRecord("probe", "ops@h:22", "refused"),
        ConnectionRecord("bootstrap", "root@h:22", "ok", "", 3, 1000),
        ConnectionRecord("converge", "ops@h:22", "ok", "", 5, 1000),
    ]
    run.total_seconds = 21.0
    return run


def test_steps_changed_in_the_bootstrap_are_reported_changed() -> None:
    """The second of the two old summaries said base_packages did not change on a fresh host."""
    steps = {s.name: s for s in cold_run().steps()}
    assert list(steps) == ["base_packages", "create_user", "harden_ssh", "sysctl"], "one row per step"
    assert steps["base_packages"].changed is True
    assert steps["base_packages"].phases == ["bootstrap", "converge"]
    assert steps["base_packages"].seconds == 20.1
    assert steps["sysctl"].changed is False


def test_one_summary_line() -> None:
    line = cold_run().summary_line()
    assert line == (
        "ok: lab converged: 4 steps, 3 changed (2 during the bootstrap), 1 unchanged in 21.0 s; "
        "3 SSH connections, 8 sessions, 2 kB uploaded"
    )


def test_json_covers_both_phases_and_every_connection() -> None:
    doc = cold_run().as_dict()
    assert doc["ok"] is True
    assert [p["phase"] for p in doc["phases"]] == ["bootstrap", "converge"]  # type: ignore[index,union-attr]
    assert [(c["purpose"], c["outcome"]) for c in doc["connections"]] == [  # type: ignore[union-attr,index]
        ("probe", "refused"),
        ("bootstrap", "ok"),
        ("converge", "ok"),
    ]


def test_a_bootstrap_alone_is_not_a_converge() -> None:
    run = cold_run()
    run.phases.pop()
    assert not run.ok


def test_failure_names_the_step_and_the_log() -> None:
    run = cold_run()
    run.phases[1].report.steps.append(StepReport("firewall_ufw", "failed", None, 0.4, 3))
    assert not run.ok
    assert run.summary_line() == (
        "FAILED: lab at step firewall_ufw (exit code 3); later steps did not run. Re-run to converge. Log: /tmp/x.log"
    )
