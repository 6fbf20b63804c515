"""Pod logs through the real API server and the test kubelet: the tail of a running pod, the
previous container's log after a restart, and the copy kept in the store once a finished pod is
deleted (served by the log view with a first line that says so)."""

from __future__ import annotations

import asyncio

import pytest
from control_plane import RealEngine
from monitor_process import wait_for
from test_k8s_engine import shell

from monitor.log_copies import COPY_LINES
from monitor.log_tail import TRUNCATED_NOTICE, LogTail
from monitor.states import State
from monitor.supervisor import Supervisor
from tui.log_wiring import log_source

pytestmark = pytest.mark.k8s

LINES = [f"step {n}: loss {1 / (n + 1):.4f}" for n in range(1500)]


async def started(engine: RealEngine, script: str, name: str = "train", **options: object) -> str:
    """A submitted plain job running `script`, once its pod runs: its log path."""
    await engine.add([(name, None, shell(engine.folder, script, **options))])
    await engine.submit_all()
    jobs = await engine.poll_until("the pod running", lambda js: js[name].state is State.RUNNING)
    path = jobs[name].current.log_path
    assert path and path.startswith("k8s://jobdeck/") and path.endswith("/main")
    return path


async def test_the_tail_of_a_running_pods_log(real_engine: RealEngine) -> None:
    (real_engine.folder / "lines").write_text("".join(f"{line}\n" for line in LINES[:12]))
    script = "head -n 10 lines; while [ ! -e more ]; do sleep 0.1; done; sed -n 11,12p lines; sleep 30"
    path = await started(real_engine, script)
    size = sum(len(line) + 1 for line in LINES[:10])
    data, seen = b"", 0
    for _ in range(50):
        data, seen = await real_engine.backend.read_bytes(path, 5, 9)
        if seen == size:
            break
        await asyncio.sleep(0.1)
    assert (data, seen) == (b"0: loss 1", size)

    tail = LogTail(real_engine.backend.read_bytes, path, tail_bytes=50)
    assert (await tail.open()).lines == LINES[8:10]
    (real_engine.folder / "more").touch()
    lines: list[str] = []
    for _ in range(100):
        lines += (await tail.poll()).lines
        if len(lines) >= 2:
            break
        await asyncio.sleep(0.1)
    assert lines == LINES[10:12]


async def test_the_previous_container_log_after_a_restart(real_engine: RealEngine) -> None:
    script = "if [ -e ran ]; then echo second run; sleep 30; else : > ran; echo first run; echo out of memory; exit 3; fi"
    restarts = {
        "job_template": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure"}}}},
        "backoff_limit": 2,
    }
    path = await started(real_engine, script, **restarts)
    await real_engine.poll_until(  # restarted in place: the same pod runs again
        "one restart", lambda js: js["train"].current.requeues == 1 and js["train"].state is State.RUNNING
    )
    assert (await real_engine.backend.read_bytes(path, 0, 1000))[0] == b"second run\n"
    assert (await real_engine.backend.read_bytes(f"{path}?previous", 0, 1000))[
        0
    ] == b"first run\nout of memory\n"


async def test_a_finished_pods_log_is_copied_and_served_after_the_pod_is_gone(
    real_engine: RealEngine,
) -> None:
    (real_engine.folder / "lines").write_text("".join(f"{line}\n" for line in LINES))
    path = await started(real_engine, "while [ ! -e go ]; do sleep 0.1; done; cat lines")
    supervisor = Supervisor(real_engine.controller, holder="m")
    (real_engine.folder / "go").touch()
    for _ in range(60):
        await supervisor.cycle()
        job = (await real_engine.jobs())["train"]
        if job.state is State.SUCCEEDED and await real_engine.store.log_copy(job.current.id, "stdout"):
            break
        await asyncio.sleep(0.5)
    copy = await real_engine.store.log_copy(job.current.id, "stdout")
    assert copy is not None and copy[0].decode().splitlines() == LINES[-COPY_LINES:]

    real_engine.admin.delete_job(job.job_id or "")  # as the TTL controller would
    wait_for(lambda: not real_engine.admin.pods(real_engine.session), 60, "the pod gone")
    with pytest.raises(FileNotFoundError):
        await real_engine.backend.read_bytes(path, 0, 100)
    source = log_source(job, real_engine.controller, real_engine.store)
    shown = (await LogTail(source.read, path, tail_bytes=10_000_000).open()).lines
    assert shown[0].startswith(f"--- the pod is gone: its last {COPY_LINES:,} log lines, as saved at ")
    assert shown[1:] == LINES[-COPY_LINES:]

    reopened = log_source(job, real_engine.controller, real_engine.store)  # as a log view opened again
    assert reopened.read_chunk is not None
    resumed = LogTail(reopened.read, path, start_offset=5000, read_chunk=reopened.read_chunk)
    batch = await resumed.open()  # a position saved while the pod lived means nothing in the copy
    assert batch.notices == [TRUNCATED_NOTICE] and batch.lines[1:] == LINES[-COPY_LINES:]


async def test_read_many_reads_container_logs_and_files_in_one_call(real_engine: RealEngine) -> None:
    path = await started(real_engine, "echo alpha; echo beta; sleep 30")
    local = real_engine.folder / "result.txt"
    local.write_text("on the shared volume\n")
    gone = "k8s://jobdeck/deleted-pod/main"
    for _ in range(50):
        found = await real_engine.backend.read_many([(path, 6, 100), (str(local), 3, 2), (gone, 0, 10)])
        if found[path] is not None and found[path].size == 11:
            break
        await asyncio.sleep(0.1)
    assert (found[path].data, found[path].size) == (b"beta\n", 11)
    assert (found[str(local)].data, found[str(local)].size) == (b"th", 21)
    assert found[gone] is None
