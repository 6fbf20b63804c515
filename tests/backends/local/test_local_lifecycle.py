"""Local jobs over time: slots, cancels, a monitor that goes away, a shim that is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from backends.local.backend import LocalBackend
from backends.local.records import process_start, read_record, record_path


def shim_pid(state_dir: Path, job_id: str) -> int:
    pid = read_record(record_path(state_dir / "records", job_id)).pid
    assert pid is not None
    return pid


async def test_max_parallel_one_keeps_the_second_job_pending_until_the_first_ends(
    state_dir: Path, start_gated, make_script, make_request, wait_for, tmp_path: Path
) -> None:
    backend = LocalBackend("here", state_dir, max_parallel=1)
    first, _ = await start_gated(backend)
    second = await backend.submit(make_request(make_script("#!/bin/sh\necho second\n")))

    waiting = await wait_for(backend, second.job_id, "PENDING", reason="Resources")
    assert waiting.start_time is None
    assert (await backend.poll([first], None)).observations[first].raw_state == "RUNNING"

    (tmp_path / "go").touch()
    first_done = await wait_for(backend, first, "COMPLETED")
    second_done = await wait_for(backend, second.job_id, "COMPLETED")
    assert second_done.start_time >= first_done.end_time
    assert Path(second_done.log_path).read_text() == "second\n"


async def test_cancel_of_a_running_job_stops_its_script(backend, start_gated, wait_for) -> None:
    job_id, pid_file = await start_gated(backend)
    script_pid = int(pid_file.read_text())

    await backend.cancel([job_id])

    done = await wait_for(backend, job_id, "CANCELLED", timeout=1)
    assert done.end_time is not None
    assert process_start(script_pid) is None
    assert "released" not in Path(done.log_path).read_text()


async def test_cancel_of_a_pending_job_never_runs_it(
    state_dir: Path, start_gated, wait_for, tmp_path: Path
) -> None:
    backend = LocalBackend("here", state_dir, max_parallel=1)
    first, _ = await start_gated(backend)
    second, second_pid_file = await start_gated(backend, "PENDING", reason="Resources")

    await backend.cancel([second])

    done = await wait_for(backend, second, "CANCELLED", timeout=1)
    assert done.start_time is None and Path(done.log_path).read_text() == ""
    assert (await backend.poll([first], None)).observations[first].raw_state == "RUNNING"
    (tmp_path / "go").touch()
    await wait_for(backend, first, "COMPLETED")
    assert not second_pid_file.exists()


async def test_cancel_kills_the_group_of_a_shim_that_does_not_answer(
    backend, state_dir: Path, start_gated, wait_for
) -> None:
    job_id, pid_file = await start_gated(backend)
    script_pid = int(pid_file.read_text())
    os.kill(shim_pid(state_dir, job_id), signal.SIGSTOP)

    await backend.cancel([job_id])

    done = await wait_for(backend, job_id, "CANCELLED", timeout=1)
    assert done.end_time is not None
    assert process_start(script_pid) is None


async def test_jobs_outlive_the_monitor_that_submitted_them(
    state_dir: Path, gate, make_request, wait_for, tmp_path: Path
) -> None:
    request = make_request(gate, str(tmp_path / "go"), str(tmp_path / "pid"))
    submitter = f"""
import asyncio
from backends.local.backend import LocalBackend
from monitor.model import SubmitRequest, TaskSpec
request = SubmitRequest("s", "job", "tag-job", {request.script!r}, {request.workdir!r},
                        (TaskSpec(None, {request.tasks[0].args!r}),), False)
print(asyncio.run(LocalBackend("here", {str(state_dir)!r}).submit(request)).job_id)
"""
    job_id = subprocess.run(
        [sys.executable, "-c", submitter], check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()

    reattached = LocalBackend("here", state_dir)
    running = await wait_for(reattached, job_id, "RUNNING")
    (tmp_path / "go").touch()
    done = await wait_for(reattached, job_id, "COMPLETED")

    assert done.start_time == running.start_time and done.exit_code == 0
    assert Path(done.log_path).read_text() == "started\nreleased\n"
    assert (await reattached.submit(request)).job_id == str(int(job_id) + 1)


async def test_kill_9_of_a_shim_is_node_fail_process_vanished(
    backend, state_dir: Path, start_gated, wait_for, tmp_path: Path
) -> None:
    job_id, _ = await start_gated(backend)

    os.kill(shim_pid(state_dir, job_id), signal.SIGKILL)
    try:
        vanished = await wait_for(backend, job_id, "NODE_FAIL")
    finally:
        (tmp_path / "go").touch()  # lets the orphaned script end

    assert vanished.reason == "process vanished" and vanished.end_time is None
    await backend.cancel([job_id])  # like scancel of an ended job: nothing changes
    assert (await backend.poll([job_id], None)).observations[job_id] == vanished
