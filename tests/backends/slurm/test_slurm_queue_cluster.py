"""The user's queue on the real cluster, here and through the loopback sshd: jobs submitted with
plain sbatch (not through jobdeck) are listed with the scheduler's facts, live from `squeue --me`
and, once finished, from `sacct` with their use of what they asked for. The queue is shared with
other suites: each test looks only at the jobs it submitted (unique names) and cancels them."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from backends.slurm.backend import SlurmBackend
from backends.slurm.cluster import SlurmCluster
from monitor.queue import QueueEntry
from monitor.states import State

pytestmark = pytest.mark.cluster

BURN = Path(__file__).resolve().parents[2] / "fixtures" / "slurm" / "queue" / "burn.sh"
"""Holds 100 MB and keeps a CPU busy for a few seconds, then exits with its argument."""


@pytest.fixture(params=["local", pytest.param("ssh", marks=pytest.mark.ssh)])
async def backend(
    request: pytest.FixtureRequest, slurm_conf: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SlurmBackend]:
    """The backend of the test cluster, reached here or through the loopback sshd."""
    host = None
    if request.param == "ssh":
        monkeypatch.setenv("JOBDECK_SSH_CONFIG", str(request.getfixturevalue("ssh_config")))
        host = os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")
    backend = SlurmBackend("lab", SlurmCluster(name="lab", host=host).runner())
    try:
        yield backend
    finally:
        await backend.close()


async def listed_until(
    backend: SlurmBackend, since: float, done: Callable[[dict[str, QueueEntry]], bool], limit: float
) -> dict[str, QueueEntry]:
    """List the queue until `done` says the entries by job ID are as awaited; accounting lags."""
    deadline = time.monotonic() + limit
    while True:
        report = await backend.list_queue(since)
        assert report.cluster == "lab" and report.history, report.notices
        entries = {entry.job_id: entry for entry in report.entries}
        if done(entries):
            return entries
        assert time.monotonic() < deadline, f"not as awaited after {limit:g} s"
        await asyncio.sleep(1)


async def test_a_job_submitted_with_sbatch_is_listed_running(backend, cluster, tmp_path: Path):
    name = f"queue-test-run-{uuid.uuid4().hex[:8]}"
    job_id = cluster.run(
        ["sbatch", "--parsable", f"--job-name={name}", "--time=7", f"--chdir={tmp_path}",
         "--comment=plain sbatch", "--wrap", "sleep 300"]
    ).strip()  # fmt: skip
    try:
        entries = await listed_until(
            backend, time.time() - 3600, lambda e: job_id in e and e[job_id].state is State.RUNNING, 90
        )
        job = entries[job_id]
        assert (job.cluster, job.name, job.scheduler_state, job.partition) == (
            "lab",
            name,
            "RUNNING",
            "debug",
        )
        assert job.time_limit == 7 * 60 and job.time_left_at(time.time()) is not None
        assert job.nodes and job.node_count == 1 and job.cpus and job.cpus >= 1
        assert job.start_time and job.workdir == str(tmp_path) and job.tag == "plain sbatch"
        assert job.log_path == str(tmp_path / f"slurm-{job_id}.out") and not job.finished
    finally:
        cluster.run(["scancel", job_id])


async def test_finished_jobs_with_their_exit_code_and_efficiency(backend, cluster, tmp_path: Path):
    tag = uuid.uuid4().hex[:8]
    since = time.time() - 60
    ids = {
        code: cluster.run(
            ["sbatch", "--parsable", f"--job-name=queue-test-{code}-{tag}", "--mem=200M",
             "--acctg-freq=task=1", "--time=5", f"--chdir={tmp_path}", str(BURN), str(code)]
        ).strip()
        for code in (0, 3)
    }  # fmt: skip
    try:
        entries = await listed_until(
            backend, since, lambda e: all(i in e and e[i].finished for i in ids.values()), 150
        )
    finally:
        cluster.run(["scancel", *ids.values()])
    done, failed = entries[ids[0]], entries[ids[3]]
    assert (done.state, done.scheduler_state, done.exit_code) == (State.SUCCEEDED, "COMPLETED", 0)
    assert (failed.state, failed.scheduler_state, failed.exit_code) == (State.FAILED, "FAILED", 3)
    for job in (done, failed):
        assert (
            job.partition == "debug" and job.time_limit == 300 and job.cpus and job.workdir == str(tmp_path)
        )
        assert job.elapsed and job.elapsed >= 4 and job.end_time and job.start_time
        assert job.cpu_efficiency is not None and 0 < job.cpu_efficiency <= 1
        assert job.max_rss is not None and job.max_rss >= 100 << 20
        assert job.req_mem == 200 << 20
        assert job.log_path == str(tmp_path / f"slurm-{job.job_id}.out")  # as the queue showed it
    # the window moved past their end: the last answer is trimmed, accounting is not asked for that
    later = await backend.list_queue(max(done.end_time or 0, failed.end_time or 0) + 1)
    assert not {e.job_id for e in later.entries} & set(ids.values())
    # the window reaches back again: accounting is asked, they are listed again
    again = await backend.list_queue(since)
    assert "sacct" in again.commands and set(ids.values()) <= {e.job_id for e in again.entries}


async def test_a_held_array_cancelled_leaves_the_queue_for_accounting(backend, cluster, tmp_path: Path):
    """Its tasks were never eligible (only the window's state list finds them in accounting) and
    its record's task expression is longer than sacct prints by default."""
    name = f"queue-test-held-{uuid.uuid4().hex[:8]}"
    base = cluster.run(
        ["sbatch", "--parsable", "--hold", f"--job-name={name}", "--array=0-99", "--time=5",
         f"--chdir={tmp_path}", "--output=/dev/null", "--wrap", "true"]
    ).strip()  # fmt: skip
    tasks = {f"{base}_{i}" for i in range(100)}
    try:
        since = time.time() - 60
        held = await listed_until(backend, since, lambda e: tasks <= e.keys(), 60)
        assert {(held[t].state, held[t].reason, held[t].array_id) for t in tasks} == {
            (State.QUEUED, "JobHeldUser", base)
        }
        cluster.run(["scancel", base])
        gone = await listed_until(
            backend, since, lambda e: all(e[t].state is State.CANCELLED for t in tasks if t in e), 120
        )
    finally:
        cluster.run(["scancel", base])
    assert tasks <= gone.keys()
    assert {gone[t].name for t in tasks} == {name}


@pytest.mark.parametrize(
    ("setting", "notice"),
    [("AccountingStorageType=accounting_storage/none", "lab: accounting is off: finished jobs are not listed"),
     ("AccountingStoragePort=1", "lab: sacct failed, finished jobs not updated: sacct: error: ")],
)  # fmt: skip
async def test_without_accounting_the_queue_is_still_listed(
    setting, notice, cluster, slurm_conf: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Accounting off, or slurmdbd not answering (a copy of the cluster's slurm.conf that says so:
    squeue still reaches slurmctld): the live queue, `history=False` and one line saying why."""
    key = setting.split("=")[0]
    lines = [line for line in Path(slurm_conf).read_text().splitlines() if not line.startswith(f"{key}=")]
    conf = tmp_path / "slurm.conf"
    conf.write_text("\n".join([*lines, setting, ""]))
    name = f"queue-test-noacct-{uuid.uuid4().hex[:8]}"
    job_id = cluster.run(["sbatch", "--parsable", "--hold", f"--job-name={name}", "--wrap", "true"]).strip()
    monkeypatch.setenv("SLURM_CONF", str(conf))
    backend = SlurmBackend("lab", SlurmCluster(name="lab").runner())
    try:
        report = await backend.list_queue(time.time() - 3600)
        assert report.history is False and len(report.notices) == 1
        assert report.notices[0].startswith(notice), report.notices
        assert {e.job_id: e.state for e in report.entries}.get(job_id) is State.QUEUED
    finally:
        monkeypatch.setenv("SLURM_CONF", slurm_conf)
        cluster.run(["scancel", job_id])
        await backend.close()
