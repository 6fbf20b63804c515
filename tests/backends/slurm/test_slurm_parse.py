"""The parsers over outputs captured from a real SLURM 22.05 cluster (tests/fixtures/slurm/capture.sh)."""

from __future__ import annotations

import pytest

from backends.slurm.parse import (
    expand_array_expression,
    is_accounting_disabled,
    is_invalid_job_id,
    parse_exit_code,
    parse_sacct,
    parse_scontrol,
    parse_squeue,
    scontrol_fields,
)
from monitor.model import Observation


def by_id(observations: list[Observation]) -> dict[str, Observation]:
    ids = [o.job_id for o in observations]
    assert len(ids) == len(set(ids)), f"duplicate observations: {ids}"
    return {o.job_id: o for o in observations}


def test_squeue_plain_jobs(captured, job_ids):
    seen = by_id(parse_squeue(captured["squeue_1"]))
    held, running, timeout = seen[job_ids["held"]], seen[job_ids["running"]], seen[job_ids["timeout"]]
    assert (held.raw_state, held.reason, held.name, held.tag) == (
        "PENDING", "JobHeldUser", "held job", "jobdeck-capture-held",
    )  # fmt: skip
    assert held.start_time is None and held.end_time is None and held.submit_time is not None
    assert (running.raw_state, running.name, running.reason) == ("RUNNING", "runner|one two", None)
    assert running.start_time is not None and running.start_time >= running.submit_time
    assert running.raw_id == job_ids["running"] and running.source == "squeue"
    assert running.exit_code is None and running.requeues == 0
    # squeue prints start + time limit as the end of a running job: a forecast, not an end
    assert timeout.raw_state == "RUNNING" and timeout.end_time is None
    assert len(seen) == len(captured["squeue_1"].splitlines())


def test_squeue_pending_array_tasks_have_no_raw_id_of_their_own(captured, job_ids):
    base = job_ids["held_array"]
    seen = by_id(parse_squeue(captured["squeue_1"]))
    tasks = [seen[f"{base}_{i}"] for i in range(4)]
    assert {t.raw_state for t in tasks} == {"PENDING"}
    assert {t.raw_id for t in tasks} == {None}
    assert {t.tag for t in tasks} == {"jobdeck-capture-held_array"}


def test_squeue_unsplit_array_record_expands_into_tasks(captured, job_ids):
    base = job_ids["held_array"]
    assert f"{base}_[0-3%2]" in captured["squeue_1_unsplit"]
    seen = by_id(parse_squeue(captured["squeue_1_unsplit"]))
    assert set(seen) == {f"{base}_{i}" for i in range(4)}
    assert all(o.raw_id is None and o.reason == "JobHeldUser" for o in seen.values())


def test_squeue_requeued_job_pends_without_a_start(captured, job_ids):
    requeued = by_id(parse_squeue(captured["squeue_2"]))[job_ids["requeued"]]
    assert (requeued.raw_state, requeued.reason, requeued.start_time) == ("PENDING", "BeginTime", None)


def test_squeue_unknown_ids(captured):
    assert parse_squeue(captured["squeue_unknown"]) == []
    assert is_invalid_job_id(captured["squeue_unknown.stderr"])
    assert parse_squeue(captured["squeue_unknown_many"]) == []
    assert "squeue_unknown_many.stderr" not in captured


def test_sacct_finished_jobs(captured, job_ids):
    seen = by_id(parse_sacct(captured["sacct_1"]))
    completed, failed = seen[job_ids["completed"]], seen[job_ids["failed"]]
    assert (completed.raw_state, completed.exit_code, completed.signal) == ("COMPLETED", 0, 0)
    assert completed.tag == "jobdeck-capture-completed" and completed.source == "sacct"
    assert (failed.raw_state, failed.exit_code, failed.name) == ("FAILED", 3, "fail-three")
    assert failed.end_time is not None and failed.end_time >= failed.start_time >= failed.submit_time
    running = seen[job_ids["running"]]
    assert (running.raw_state, running.end_time, running.name) == ("RUNNING", None, "runner|one two")


def test_sacct_array_with_failing_tasks(captured, job_ids):
    base = job_ids["array"]
    seen = by_id(parse_sacct(captured["sacct_1"]))
    tasks = {i: seen[f"{base}_{i}"] for i in range(5)}
    assert {i: (t.raw_state, t.exit_code) for i, t in tasks.items()} == {
        0: ("COMPLETED", 0), 1: ("FAILED", 3), 2: ("COMPLETED", 0), 3: ("FAILED", 3), 4: ("COMPLETED", 0),
    }  # fmt: skip
    raw_ids = [t.raw_id for t in tasks.values()]
    assert len(set(raw_ids)) == 5 and all(r and r.isdigit() for r in raw_ids)
    assert tasks[4].raw_id == base  # the last task keeps the array's base ID
    assert {t.name for t in tasks.values()} == {"array|five"}


def test_sacct_unsplit_array_record_expands(captured, job_ids):
    base = job_ids["held_array"]
    seen = by_id(parse_sacct(captured["sacct_1"]))
    held = [seen[f"{base}_{i}"] for i in range(4)]
    assert {(o.raw_state, o.raw_id, o.reason) for o in held} == {("PENDING", None, "JobHeldUser")}


def test_sacct_cancelled_by_user_and_requeue(captured, job_ids):
    assert "CANCELLED by 0" in captured["sacct_2"]
    seen = by_id(parse_sacct(captured["sacct_2"]))
    cancelled, requeued = seen[job_ids["cancelled"]], seen[job_ids["requeued"]]
    assert cancelled.raw_state == "CANCELLED" and cancelled.end_time is not None
    assert (requeued.raw_state, requeued.requeues, requeued.start_time) == ("PENDING", 1, None)
    first = next(
        line for line in captured["sacct_2"].splitlines() if line.startswith(f"{job_ids['requeued']}\x1f")
    )
    assert "REQUEUED" in first  # -D kept the first run as its own row
    assert requeued.submit_time > seen[job_ids["completed"]].submit_time  # a requeue resubmits
    assert all(o.requeues == 0 for o in seen.values() if o is not requeued)


def test_sacct_timeout(captured, job_ids):
    timeout = by_id(parse_sacct(captured["sacct_3"]))[job_ids["timeout"]]
    assert timeout.raw_state == "TIMEOUT"
    assert 60 <= timeout.end_time - timeout.start_time <= 120


def test_sacct_without_accounting(captured):
    assert is_accounting_disabled(captured["sacct_disabled.stderr"])
    assert not is_accounting_disabled(captured["sacct_unreachable.stderr"])
    assert parse_sacct(captured["sacct_disabled"]) == []


def test_scontrol_all_jobs(captured, job_ids):
    seen = by_id(parse_scontrol(captured["scontrol_1"]))
    running = seen[job_ids["running"]]
    assert (running.name, running.tag, running.raw_state) == (
        "runner|one two",
        "jobdeck-capture-running",
        "RUNNING",
    )
    assert running.log_path.endswith(f"/slurm-{job_ids['running']}.out") and running.source == "scontrol"
    base = job_ids["array"]
    for i in range(5):
        task = seen[f"{base}_{i}"]
        assert task.log_path.endswith(f"/arr {base}_{i}.out")  # a path with a space, resolved
        assert task.exit_code == (3 if i in (1, 3) else 0)
    held = [seen[f"{job_ids['held_array']}_{i}"] for i in range(4)]
    assert {(o.raw_id, o.log_path) for o in held} == {(None, None)}  # the record's StdOut is no task's


def test_scontrol_array_query(captured, job_ids):
    base = job_ids["array"]
    assert set(by_id(parse_scontrol(captured["scontrol_1_array"]))) == {f"{base}_{i}" for i in range(5)}


def test_scontrol_requeued(captured, job_ids):
    (requeued,) = parse_scontrol(captured["scontrol_2_requeued"])
    assert requeued.job_id == job_ids["requeued"]
    assert (requeued.raw_state, requeued.reason, requeued.requeues) == ("PENDING", "BeginTime", 1)
    assert requeued.start_time is None  # StartTime is the forecast BeginTime


def test_scontrol_timeout_and_cancel_carry_signal(captured, job_ids):
    seen = by_id(parse_scontrol(captured["scontrol_3"]))
    timeout, cancelled = seen[job_ids["timeout"]], seen[job_ids["cancelled"]]
    assert (timeout.raw_state, timeout.reason, timeout.exit_code, timeout.signal) == (
        "TIMEOUT",
        "TimeLimit",
        0,
        15,
    )
    assert (cancelled.raw_state, cancelled.signal) == ("CANCELLED", 15)


def test_scontrol_unknown_id(captured):
    assert parse_scontrol(captured["scontrol_unknown"]) == []
    assert is_invalid_job_id(captured["scontrol_unknown.stderr"])


def test_sources_agree_on_finished_jobs(captured):
    accounting = by_id(parse_sacct(captured["sacct_3"]))
    controller = by_id(parse_scontrol(captured["scontrol_3"]))
    finished = [o for o in accounting.values() if o.end_time is not None and o.job_id in controller]
    assert len(finished) >= 8
    for acct in finished:
        ctl = controller[acct.job_id]
        assert (ctl.raw_state, ctl.exit_code, ctl.start_time, ctl.end_time, ctl.name, ctl.raw_id) == (
            acct.raw_state, acct.exit_code, acct.start_time, acct.end_time, acct.name, acct.raw_id,
        ), acct.job_id  # fmt: skip


def test_scontrol_values_with_spaces_and_equals(captured, job_ids):
    line = next(
        line for line in captured["scontrol_1"].splitlines() if f"JobId={job_ids['running']} " in line
    )
    fields = scontrol_fields(line.replace("JobName=runner|one two", "JobName=sweep LR=0.1 b=2 x"))
    assert fields["JobName"] == "sweep LR=0.1 b=2 x"
    assert fields["Command"].endswith("/job.sh 0 600") and fields["UserId"] == "root(0)"
    assert fields["AllocNode:Sid"] and fields["CPUs/Task"] == "1" and fields["ReqB:S:C:T"] == "0:0:*:*"
    assert fields["TRES"].startswith("cpu=1,")
    assert fields["Comment"] == "jobdeck-capture-running"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3:0", (3, 0)), ("0:15", (0, 15)), ("255:0", (255, 0)), ("", (None, None)), ("3", (None, None)),
     ("a:b", (None, None)), (None, (None, None))],
)  # fmt: skip
def test_parse_exit_code(text, expected):
    assert parse_exit_code(text) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("0-3%2", [0, 1, 2, 3]), ("[1,3-5]", [1, 3, 4, 5]), ("0-9:4", [0, 4, 8]), ("7", [7]), ("5-3", None),
     ("x", None), ("", None), ("0-99999999", None)],
)  # fmt: skip
def test_expand_array_expression(expression, expected):
    assert expand_array_expression(expression) == expected


@pytest.mark.parametrize(
    "line",
    [
        "JobId=5 ArrayJobId=4 ArrayTaskId=² JobState=RUNNING",
        "JobId=5 ArrayJobId=4 ArrayTaskId=٣ JobState=RUNNING",
        f"JobId=5 JobState=RUNNING Restarts={'9' * 5000} SubmitTime={'9' * 5000} ExitCode={'9' * 5000}:0",
    ],
)
def test_numbers_that_int_cannot_read_are_not_numbers(line):
    observations = parse_scontrol(line)
    assert all(o.job_id == "5" and o.requeues == 0 and o.submit_time is None for o in observations)
