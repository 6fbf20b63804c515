"""The user's queue read from real captured output (tests/fixtures/slurm/queue/capture.sh): a running
job, a held one, a running array and a held one from `squeue --me`; a job that burned CPU and memory
and one that exited 3 and one cancelled while held from `sacct`. The queue also holds other suites' jobs: only ours are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.slurm.queue_commands import QUEUE_FIELDS
from backends.slurm.queue_parse import history_rows, queue_line
from backends.slurm.units import duration, requested_memory, size_bytes, tres_gpus, tres_memory
from monitor.states import State

QUEUE_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "slurm" / "queue"


@pytest.fixture(scope="module")
def ids() -> dict[str, str]:
    lines = (QUEUE_FIXTURES / "jobs.txt").read_text().splitlines()
    return dict(line.split("\t") for line in lines)


@pytest.fixture(scope="module")
def queue() -> dict[str, object]:
    data = (QUEUE_FIXTURES / "squeue_mine.txt").read_bytes()
    return {e.job_id: e for line in data.splitlines() for e in queue_line("lab", line)}


@pytest.fixture(scope="module")
def history() -> dict[str, object]:
    text = (QUEUE_FIXTURES / "sacct_history.txt").read_text()
    return {e.job_id: e for e in history_rows("lab", text)}


def test_every_captured_line_is_read():
    data = (QUEUE_FIXTURES / "squeue_mine.txt").read_bytes()
    assert all(queue_line("lab", line) for line in data.splitlines())
    text = (QUEUE_FIXTURES / "sacct_history.txt").read_text()
    allocations = [line for line in text.splitlines() if "." not in line.split("\x1f")[1]]
    assert allocations and all(history_rows("lab", line) for line in allocations)


def test_a_running_job_with_its_facts(queue, ids):
    job = queue[ids["running"]]
    assert (job.cluster, job.name, job.state, job.scheduler_state) == (
        "lab",
        "queue runner",
        State.RUNNING,
        "RUNNING",
    )
    assert (job.partition, job.nodes, job.node_count, job.cpus, job.gpus) == (
        "debug",
        "jobdeck-node",
        1,
        1,
        None,
    )
    assert job.time_limit == 600 and job.tag == "queue-capture" and job.reason is None
    assert job.start_time and job.submit_time and job.end_time is None  # squeue's end is a forecast
    assert job.priority and job.priority > 0 and job.requeues == 0
    assert job.log_path == job.err_path == f"{job.workdir}/slurm-{ids['running']}.out"
    assert job.array_id is None and job.task is None and not job.finished


def test_a_held_job_pending_with_its_reason(queue, ids):
    job = queue[ids["held"]]
    assert (job.state, job.scheduler_state, job.reason) == (State.QUEUED, "PENDING", "JobHeldUser")
    assert job.time_limit == 26 * 3600 and job.start_time is None and job.nodes is None
    assert job.req_mem == 4000 << 20  # the TRES asked for: mem=4000M


def test_array_tasks_one_entry_each(queue, ids):
    running = [queue[f"{ids['array']}_{i}"] for i in range(3)]
    assert [(t.array_id, t.task, t.state) for t in running] == [
        (ids["array"], i, State.RUNNING) for i in range(3)
    ]
    held = [queue[f"{ids['held_array']}_{i}"] for i in range(4)]
    assert {(t.array_id, t.state, t.reason) for t in held} == {
        (ids["held_array"], State.QUEUED, "JobHeldUser")
    }


def test_a_finished_job_with_its_use_of_what_it_asked_for(history, ids):
    job = history[ids["finished"]]
    assert (job.name, job.state, job.scheduler_state, job.exit_code) == (
        "queue burn|ok",
        State.SUCCEEDED,
        "COMPLETED",
        0,
    )
    assert job.elapsed == 6 and job.cpus == 1 and job.partition == "debug" and job.time_limit == 300
    assert job.cpu_efficiency == pytest.approx(1.916 / 6)  # the machine was busy
    assert job.max_rss == 117188 << 10  # the batch step's
    assert job.req_mem == 200 << 20
    assert job.end_time and job.start_time and job.end_time - job.start_time == 6


def test_a_failed_job_is_failed_with_its_exit_code(history, ids):
    job = history[ids["failed"]]
    assert (job.state, job.exit_code, job.signal, job.scheduler_state) == (State.FAILED, 3, 0, "FAILED")
    assert job.max_rss == 117304 << 10 and job.cpu_efficiency == pytest.approx(1.999 / 6)


def test_a_job_cancelled_while_held_is_listed_without_use(history, ids):
    job = history[ids["cancelled_held"]]  # never eligible: the window's state list finds it
    assert (job.state, job.scheduler_state, job.nodes, job.elapsed) == (State.CANCELLED, "CANCELLED", None, 0)
    assert job.cpu_efficiency is None and job.max_rss is None and job.req_mem == 4000 << 20


def test_accounting_lists_finished_jobs_only(history, ids):
    assert ids["running"] not in history and ids["held"] not in history


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5:00", 300), ("10:00", 600), ("1-02:00:00", 93600), ("02:03:04", 7384), ("00:04.910", 4.91),
     ("1-00:00:01.5", 86401.5), ("5", 300), ("UNLIMITED", None), ("NOT_SET", None), ("Partition_Limit", None),
     ("", None), ("1:2:3:4", None)],
)  # fmt: skip
def test_durations(text, seconds):
    assert duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_sizes_and_memory_asked_for():
    assert size_bytes("117284K") == 117284 << 10 and size_bytes("0") == 0 and size_bytes("1.5G") == 3 << 29
    assert size_bytes("") is None and size_bytes("12Q") is None
    assert requested_memory("200M", 4, 2) == 200 << 20  # SLURM >= 21.08: the job's figure
    assert requested_memory("100Mc", 4, 2) == 400 << 20  # per CPU (older SLURM)
    assert requested_memory("2Gn", 4, 2) == 4 << 30  # per node (older SLURM)
    assert requested_memory("100Mc", None, 2) is None and requested_memory("", 1, 1) is None


def test_gpus_and_memory_in_trackable_resources():
    assert tres_gpus("billing=1,cpu=1,node=1") is None
    assert tres_gpus("cpu=4,gres/gpu=2,node=1") == 2
    assert tres_gpus("cpu=4,gres/gpu:a100=2,node=1") == 2
    assert tres_gpus("cpu=4,gres/gpu=3,gres/gpu:a100=2,gres/gpu:v100=1") == 3
    assert tres_gpus("gres/gpu:a100=2,gres/gpu:v100=1") == 3
    assert tres_memory("cpu=1,mem=4000M,node=1") == 4000 << 20 and tres_memory("cpu=1,mem=2G") == 2 << 30
    assert tres_memory("cpu=1,node=1") is None


def _with_paths(line: bytes, stdout: str, stderr: str) -> bytes:
    fields = line.split(b"\x1f")
    names = [name for name, _ in QUEUE_FIELDS]
    fields[names.index("stdout")], fields[names.index("stderr")] = stdout.encode(), stderr.encode()
    return b"\x1f".join(fields)


def test_a_waiting_jobs_log_pattern_is_shown_as_the_job_will_write_it(ids):
    """squeue prints a pending job's --output as typed (`logs/%x-%j.out`): filled in with what is known."""
    data = (QUEUE_FIXTURES / "squeue_mine.txt").read_bytes().splitlines()
    plain = next(line for line in data if line.split(b"\x1f")[0] == ids["held"].encode())
    (entry,) = queue_line("lab", _with_paths(plain, "/w/logs/%x-%j.out", "/w/logs/%x-%j.err"))
    assert entry.log_path == f"/w/logs/{entry.name}-{entry.job_id}.out"
    assert entry.err_path == f"/w/logs/{entry.name}-{entry.job_id}.err"
    task_line = next(
        line for line in data if line.split(b"\x1f")[0].startswith(ids["held_array"].encode() + b"_")
    )
    (task,) = queue_line("lab", _with_paths(task_line, "/w/%A_%a.out", "/w/100%%.err"))
    assert task.log_path == f"/w/{task.array_id}_{task.task}.out"
    assert task.err_path == "/w/100%.err"
