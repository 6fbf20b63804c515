"""Polls never overlap, and the pause after a slow poll is at least twice that poll: over real local
processes, a real store and a real LocalBackend whose poll is made slow."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from backends.local.backend import LocalBackend
from monitor.controller import Controller, ControllerSettings
from monitor.model import JobSpec, PollReport
from monitor.states import State
from monitor.supervisor import Supervisor
from store.session_store import SessionStore

SLOW = 0.3  # seconds each poll of the slow backend takes at least


class SlowBackend(LocalBackend):
    """The local backend, slowed down, noting how many of its polls were running at once."""

    def __init__(self, cluster: str, state_dir: Path) -> None:
        super().__init__(cluster, state_dir)
        self.running = 0
        self.most_at_once = 0
        self.calls = 0

    async def poll(self, job_ids: Sequence[str], since: float | None) -> PollReport:
        self.calls += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(SLOW)  # a slow scheduler: time for another poll to start meanwhile
            return await super().poll(job_ids, since)
        finally:
            self.running -= 1


@pytest.fixture
async def sleeping_job(tmp_path: Path):
    """A session with one submitted job that runs for 30 s, on the slow backend."""
    script = tmp_path / "sleep.sh"
    script.write_text("#!/bin/sh\nsleep 30\n")
    script.chmod(0o755)
    store = await SessionStore.open(tmp_path / "db.sqlite")
    sid = await store.ensure_session("s", None, {}, time.time())
    await store.add_jobs(sid, [("a", None, JobSpec("here", str(script), str(tmp_path)))], time.time())
    backend = SlowBackend("here", tmp_path / "local-jobs")
    controller = Controller(store, "s", {"here": backend}, ControllerSettings(poll_interval=0.1))
    (outcome,) = await controller.submit(await store.jobs("s"))
    assert outcome.ok, outcome.error
    yield controller, backend
    await controller.cancel(await store.jobs("s"))
    await store.close()


async def test_concurrent_polls_run_one_after_the_other(sleeping_job) -> None:
    controller, backend = sleeping_job
    started = time.monotonic()
    outcomes = await asyncio.gather(*(controller.poll() for _ in range(3)))
    elapsed = time.monotonic() - started
    assert backend.calls == 3
    assert backend.most_at_once == 1
    assert elapsed >= 3 * SLOW
    assert all(o.health["here"].ok for o in outcomes)
    (job,) = await controller.store.jobs("s")
    assert job.state in (State.QUEUED, State.RUNNING)


async def test_the_next_poll_waits_at_least_twice_as_long_as_the_last_one_took(sleeping_job) -> None:
    controller, _ = sleeping_job
    supervisor = Supervisor(controller, interval=0.1)
    cycle = await supervisor.cycle()
    assert cycle.poll is not None
    took = cycle.poll.health["here"].seconds
    assert took >= SLOW
    assert supervisor.next_delay(cycle) == pytest.approx(2 * took)
