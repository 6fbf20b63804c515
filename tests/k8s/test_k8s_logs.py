"""Pod logs through the API server: the tail of a running pod, the previous container's log after a
restart, and the copy kept in the store once a finished pod is deleted (read once per pod, served
by the log view with a first line that says so)."""

from __future__ import annotations

import pytest
from k8s_support import NAMESPACE, Engine, k8s_spec

from monitor.log_copies import COPY_LINES
from monitor.log_tail import TRUNCATED_NOTICE, LogTail
from monitor.states import State
from monitor.supervisor import Supervisor
from tui.log_wiring import log_source

LINES = [f"step {n}: loss {1 / (n + 1):.4f}" for n in range(1500)]


def log_requests(engine: Engine) -> list[dict[str, list[str]]]:
    return [r.query for r in engine.server.requests if r.path.endswith("/log")]


def copies_taken(engine: Engine) -> list[dict[str, list[str]]]:
    """Log reads of the last lines (the log-size check of running jobs reads whole logs)."""
    return [q for q in log_requests(engine) if "tailLines" in q]


async def started(engine: Engine, name: str = "train") -> tuple[str, str]:
    """A submitted plain job whose pod runs: (pod name, its log path)."""
    await engine.add([(name, None, k8s_spec(engine.folder))])
    (outcome,) = await engine.controller.submit(await engine.store.jobs("s", states=[State.PENDING]))
    pod = engine.server.pod(outcome.scheduler_id or "", namespace=NAMESPACE)
    engine.server.run(pod, NAMESPACE)
    await engine.controller.poll()
    job = (await engine.jobs())[name]
    assert job.current is not None and job.current.log_path == f"k8s://{NAMESPACE}/{pod}/main"
    return pod, job.current.log_path


async def test_the_tail_of_a_running_pods_log(engine: Engine) -> None:
    pod, path = await started(engine)
    engine.server.set_log(pod, "".join(f"{line}\n" for line in LINES[:10]), namespace=NAMESPACE)
    data, size = await engine.backend.read_bytes(path, 5, 9)
    assert (data, size) == (b"0: loss 1", sum(len(line) + 1 for line in LINES[:10]))

    tail = LogTail(engine.backend.read_bytes, path, tail_bytes=50)
    first = await tail.open()
    assert first.lines == LINES[8:10]
    engine.server.set_log(pod, "".join(f"{line}\n" for line in LINES[:12]), namespace=NAMESPACE)
    assert (await tail.poll()).lines == LINES[10:12]


async def test_the_previous_container_log_after_a_restart(engine: Engine) -> None:
    pod, path = await started(engine)
    engine.server.set_log(pod, "first run\nout of memory\n", namespace=NAMESPACE)
    engine.server.restart_container(pod, exit_code=137, reason="OOMKilled", namespace=NAMESPACE)
    engine.server.set_log(pod, "second run\n", namespace=NAMESPACE)
    assert (await engine.backend.read_bytes(path, 0, 1000))[0] == b"second run\n"
    assert (await engine.backend.read_bytes(f"{path}?previous", 0, 1000))[0] == b"first run\nout of memory\n"
    assert log_requests(engine)[-1]["previous"] == ["true"]
    await engine.controller.poll()
    assert (await engine.jobs())["train"].current.requeues == 1  # restarted once, same pod


async def test_a_container_that_has_not_started_has_no_log_yet(engine: Engine) -> None:
    await engine.add([("later", None, k8s_spec(engine.folder))])
    (outcome,) = await engine.controller.submit(await engine.store.jobs("s"))
    pod = engine.server.pod(outcome.scheduler_id or "", namespace=NAMESPACE)
    with pytest.raises(FileNotFoundError, match="waiting to start: ContainerCreating"):
        await engine.backend.read_bytes(f"k8s://{NAMESPACE}/{pod}/main", 0, 100)
    with pytest.raises(FileNotFoundError, match="not found"):
        await engine.backend.read_bytes(f"k8s://{NAMESPACE}/no-such-pod/main", 0, 100)


async def test_a_finished_pods_log_is_copied_once_and_served_after_the_pod_is_gone(engine: Engine) -> None:
    engine.backend.ttl_after_finished = 0
    pod, path = await started(engine)
    engine.server.set_log(pod, "".join(f"{line}\n" for line in LINES), namespace=NAMESPACE)
    supervisor = Supervisor(engine.controller, holder="m")
    await supervisor.cycle()
    assert copies_taken(engine) == []  # nothing copied while the pod runs

    engine.server.succeed(pod, NAMESPACE)
    for _ in range(3):
        await supervisor.cycle()
    job = (await engine.jobs())["train"]
    assert job.state is State.SUCCEEDED
    (copied,) = copies_taken(engine)  # one call for the finished pod, once
    assert copied["tailLines"] == [str(COPY_LINES)]

    assert engine.server.expire_finished() == [job.job_id]  # ttlSecondsAfterFinished: 0
    source = log_source(job, engine.controller, engine.store)
    with pytest.raises(FileNotFoundError):
        await engine.backend.read_bytes(path, 0, 100)
    tail = LogTail(source.read, path, tail_bytes=10_000_000)
    shown = (await tail.open()).lines
    assert shown[0].startswith(f"--- the pod is gone: its last {COPY_LINES:,} log lines, as saved at ")
    assert shown[1:] == LINES[-COPY_LINES:]

    reopened = log_source(job, engine.controller, engine.store)  # as a log view opened again
    assert reopened.read_chunk is not None
    resumed = LogTail(reopened.read, path, start_offset=5000, read_chunk=reopened.read_chunk)
    batch = await resumed.open()  # a position saved while the pod lived means nothing in the copy
    assert batch.notices == [TRUNCATED_NOTICE] and batch.lines[1:] == LINES[-COPY_LINES:]


async def test_a_pod_gone_before_it_could_be_copied_is_not_asked_about_again(engine: Engine) -> None:
    pod, path = await started(engine)
    engine.server.succeed(pod, NAMESPACE)
    engine.server.delete_pod_now(pod, NAMESPACE)
    supervisor = Supervisor(engine.controller, holder="m")
    for _ in range(3):
        await supervisor.cycle()
    assert len(copies_taken(engine)) == 1
    job = (await engine.jobs())["train"]
    source = log_source(job, engine.controller, engine.store)
    with pytest.raises(FileNotFoundError):
        await source.read(path, 0, 100)


async def test_read_many_reads_container_logs_and_files_in_one_call(engine: Engine) -> None:
    pod, path = await started(engine)
    engine.server.set_log(pod, "alpha\nbeta\n", namespace=NAMESPACE)
    local = engine.folder / "result.txt"
    local.write_text("on the shared volume\n")
    gone = f"k8s://{NAMESPACE}/deleted-pod/main"
    found = await engine.backend.read_many([(path, 6, 100), (str(local), 3, 2), (gone, 0, 10)])
    assert (found[path].data, found[path].size) == (b"beta\n", 11)
    assert (found[str(local)].data, found[str(local)].size) == (b"th", 21)
    assert found[gone] is None
