"""The supervisor over real local processes and a real store: one monitor acts, the other reads;
open intents are settled by tag; restart policies run."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from backends.local.backend import LocalBackend
from monitor.controller import Controller, ControllerSettings, build_request
from monitor.model import JobSpec, RestartPolicy
from monitor.states import State
from monitor.supervisor import Supervisor
from store.session_store import SessionStore


@pytest.fixture
async def world(tmp_path: Path):
    script = tmp_path / "run.sh"
    script.write_text('#!/bin/sh\necho run $*\nexit "$1"\n')
    script.chmod(0o755)
    store = await SessionStore.open(tmp_path / "db.sqlite")
    sid = await store.ensure_session("s", None, {}, time.time())
    backend = LocalBackend("here", tmp_path / "local-jobs")
    settings = ControllerSettings(poll_interval=0.2, validate_grace=0.2, intent_grace=0.0)
    yield store, sid, backend, settings, tmp_path
    await store.close()


def _spec(tmp: Path, code: str, **policy) -> JobSpec:
    return JobSpec("here", str(tmp / "run.sh"), str(tmp), args=(code,), restart=RestartPolicy(**policy))


async def _cycles(supervisor: Supervisor, store: SessionStore, until, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        await supervisor.cycle()
        if until(await store.jobs("s")):
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached")


async def test_second_monitor_reads_only_until_the_lease_expires(world) -> None:
    store, sid, backend, settings, tmp = world
    await store.add_jobs(sid, [("a", None, _spec(tmp, "0"))], 1.0)
    first = Supervisor(Controller(store, "s", {"here": backend}, settings), holder="one")
    second = Supervisor(Controller(store, "s", {"here": backend}, settings), holder="two")
    assert (await first.cycle()).acting
    other = await second.cycle()
    assert not other.acting and other.lease.holder == "one"
    await first.release()
    assert (await second.cycle()).acting


async def test_open_intent_found_by_tag_is_recorded_not_resubmitted(world) -> None:
    store, sid, backend, settings, tmp = world
    await store.add_jobs(sid, [("a", None, _spec(tmp, "0")), ("b", None, _spec(tmp, "0"))], 1.0)
    a, b = await store.jobs("s")
    # "a": the intent was written and the submission went out, then the monitor died.
    request = build_request([a], "jobdeck:sent000001")
    await store.record_intent(sid, "a", "submit", "jobdeck:sent000001", "here", [a], "run", time.time())
    await backend.submit(request)
    # "b": the intent was written but the monitor died before sending anything.
    await store.record_intent(sid, "b", "submit", "jobdeck:lost000001", "here", [b], "run", time.time())
    supervisor = Supervisor(Controller(store, "s", {"here": backend}, settings))
    outcome = await supervisor.cycle()
    verdicts = {v.submission.job_name: v.result is not None for v in outcome.intents}
    assert verdicts == {"a": True, "b": False}
    a, b = await store.jobs("s")
    assert a.job_id is not None and len(a.attempts) == 1
    assert (b.state, b.reason, b.attempts) == (State.PENDING, "not submitted", ())
    records = list((tmp / "local-jobs" / "records").glob("*.json"))
    assert len(records) == 1  # nothing was submitted a second time


async def test_restart_policy_restarts_a_failed_job_up_to_max_attempts(world) -> None:
    store, sid, backend, settings, tmp = world
    await store.add_jobs(sid, [("flaky", None, _spec(tmp, "3", on=("exit:3",), max_attempts=2))], 1.0)
    controller = Controller(store, "s", {"here": backend}, settings)
    await controller.submit(await store.jobs("s"))
    supervisor = Supervisor(controller)
    await _cycles(
        supervisor, store, lambda jobs: len(jobs[0].attempts) == 2 and jobs[0].state is State.FAILED
    )
    for _ in range(3):
        await supervisor.cycle()
    (job,) = await store.jobs("s")
    assert [a.kind for a in job.attempts] == ["submit", "restart"]


async def test_pacing_backs_off_while_a_cluster_does_not_answer_and_returns_after(world) -> None:
    from backends.runners.ssh import SshRunner
    from backends.slurm.backend import SlurmBackend

    store, sid, backend, settings, tmp = world
    sleeper = tmp / "sleep.sh"
    sleeper.write_text("#!/bin/sh\nsleep 30\n")
    sleeper.chmod(0o755)
    await store.add_jobs(sid, [("a", None, JobSpec("here", str(sleeper), str(tmp)))], 1.0)
    controller = Controller(store, "s", {"here": backend}, settings)
    await controller.submit(await store.jobs("s"))
    supervisor = Supervisor(controller, interval=1.0)
    assert supervisor.next_delay(await supervisor.cycle()) == 1.0
    runner = SshRunner("127.0.0.1", port=1, user="nobody", connect_timeout=1, backoff_base=0.05)
    controller.backends["here"] = SlurmBackend("here", runner)
    delays = [supervisor.next_delay(await supervisor.cycle()) for _ in range(3)]
    assert delays == [2.0, 4.0, 8.0]
    controller.backends["here"] = backend
    assert supervisor.next_delay(await supervisor.cycle()) == 1.0
    await controller.cancel(await store.jobs("s"))
    await runner.close()


async def test_a_dead_holder_on_this_machine_gives_the_lease_up_at_once(world) -> None:
    import socket
    import subprocess

    store, sid, backend, settings, tmp = world
    await store.add_jobs(sid, [("a", None, _spec(tmp, "0"))], 1.0)
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = f"{socket.gethostname()}:{gone.pid}:abcdef"
    await store.claim_lease("s", dead, time.time(), 3600.0)
    first = Supervisor(Controller(store, "s", {"here": backend}, settings))
    taken = await first.cycle()
    assert (taken.acting, taken.took_over_from) == (True, dead)  # the dead holder's lease was taken at once
    assert (await first.cycle()).took_over_from is None  # said once
    await first.release()
    alive = f"{socket.gethostname()}:1:abcdef"  # pid 1 always exists
    await store.claim_lease("s", alive, time.time(), 3600.0)
    outcome = await Supervisor(Controller(store, "s", {"here": backend}, settings)).cycle()
    assert (outcome.acting, outcome.lease.holder) == (False, alive)  # a live holder keeps it
