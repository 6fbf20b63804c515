"""Marker lines through the controller, over the real local backend and a real store: one batched read
per poll, events and offsets in the poll's transaction, no line fired twice or skipped across a
monitor that dies, the last lines of a finished job, rotation and the per-poll cap."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from backends.local.backend import LocalBackend
from monitor.controller import Controller, ControllerSettings
from monitor.model import Job, JobSpec, ReadChunk
from monitor.states import State
from store.session_store import SessionStore

TALK = """#!/bin/sh
# usage: talk.sh DIR: prints DIR/say-1, DIR/say-2, ... as they appear; ends once DIR/stop exists
n=1
while :; do
  if [ -e "$1/say-$n" ]; then cat "$1/say-$n"; n=$((n + 1)); continue; fi
  [ -e "$1/stop" ] && exit 0
  sleep 0.05
done
"""


class CountingBackend(LocalBackend):
    """The local backend, counting its batched reads."""

    reads = 0

    async def read_many(self, requests: Sequence[tuple[str, int, int]]) -> dict[str, ReadChunk | None]:
        self.reads += 1
        return await super().read_many(requests)


@dataclass
class Env:
    tmp: Path
    store: SessionStore
    backend: CountingBackend
    controller: Controller
    said: itertools.count

    def monitor(self, store: SessionStore) -> Controller:
        """A new monitor on the same database and state directory, as after a restart."""
        self.backend = CountingBackend("here", self.tmp / "local-jobs")
        return Controller(store, "s", {"here": self.backend}, ControllerSettings(validate_grace=0.2))


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    script = tmp_path / "talk.sh"
    script.write_text(TALK)
    script.chmod(0o755)
    store = await SessionStore.open(tmp_path / "db.sqlite")
    await store.ensure_session("s", None, {}, time.time())
    backend = CountingBackend("here", tmp_path / "local-jobs")
    controller = Controller(store, "s", {"here": backend}, ControllerSettings(validate_grace=0.2))
    yield Env(tmp_path, store, backend, controller, itertools.count(1))
    for folder in tmp_path.glob("talk-*"):
        (folder / "stop").touch()
    await store.close()


async def start(env: Env, *tasks: int | None, markers: tuple[str, ...] = ("^MARK",)) -> list[Job]:
    """Jobs running talk.sh (one per task), each with its own folder to be told what to print."""
    definitions = []
    for task in tasks:
        folder = env.tmp / f"talk-{task}"
        folder.mkdir()
        array = "0-9" if task is not None else None
        spec = JobSpec(
            "here", str(env.tmp / "talk.sh"), str(env.tmp), (str(folder),), array=array, markers=markers
        )
        definitions.append(("talker", task, spec))
    sid = await env.store.session_id("s")
    await env.store.add_jobs(sid, definitions, time.time())
    await env.controller.submit(await env.store.jobs("s", states=[State.PENDING]))
    return await until(env, lambda jobs: all(j.state is State.RUNNING for j in jobs), "running")


async def until(
    env: Env, done, what: str, controller: Controller | None = None, limit: float = 20.0
) -> list[Job]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        await (controller or env.controller).poll()
        jobs = await env.store.jobs("s")
        if done(jobs):
            return jobs
        await asyncio.sleep(0.1)
    raise AssertionError(f"jobs never {what}: {[(j.key, j.state) for j in await env.store.jobs('s')]}")


def say(env: Env, job: Job, text: str) -> None:
    """Make the job print `text`, and wait until it is in its log."""
    folder = env.tmp / f"talk-{job.task}"
    n = len(list(folder.glob("say-*"))) + 1
    (folder / ".next").write_text(text)
    (folder / ".next").rename(folder / f"say-{n}")
    log = Path(job.current.log_path or "")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().endswith(text):
            return
        time.sleep(0.02)
    raise AssertionError(f"{text!r} never reached {log}")


async def marker_events(store: SessionStore) -> list[tuple[str, str]]:
    return [(str(e.job), e.message) for e in await store.events(session="s") if e.kind in ("marker", "log")]


async def test_markers_fire_once_across_a_monitor_that_dies(env: Env) -> None:
    first, second = await start(env, 0, 1)
    say(env, first, "MARK one\nplain\nMARK two\n")
    say(env, second, "not me\nMARK three\n")
    reads = env.backend.reads

    outcome = await env.controller.poll()

    assert env.backend.reads == reads + 1  # both logs in one batched read
    assert sorted((str(e.job), e.message) for e in outcome.events if e.kind == "marker") == [
        ("s/talker[0]", "log: MARK one"),
        ("s/talker[0]", "log: MARK two"),
        ("s/talker[1]", "log: MARK three"),
    ]

    # The monitor dies: no shutdown, no flush. Another one opens the database and carries on.
    store = await SessionStore.open(env.store.path)
    try:
        restarted = env.monitor(store)
        say(env, first, "MARK four\n")
        await restarted.poll()
        say(env, first, "MARK five, the last, without a newline")
        (env.tmp / "talk-0" / "stop").touch()
        (env.tmp / "talk-1" / "stop").touch()
        await until(env, lambda jobs: all(j.state is State.SUCCEEDED for j in jobs), "succeeded", restarted)
    finally:
        await store.close()

    assert sorted(await marker_events(env.store)) == [
        ("s/talker[0]", "log: MARK five, the last, without a newline"),
        ("s/talker[0]", "log: MARK four"),
        ("s/talker[0]", "log: MARK one"),
        ("s/talker[0]", "log: MARK two"),
        ("s/talker[1]", "log: MARK three"),
    ]


async def test_a_poll_that_is_never_stored_loses_no_marker(env: Env) -> None:
    (job,) = await start(env, None)
    say(env, job, "MARK a\n")

    unstored = await env.controller.poll(dry_run=True)  # as if the monitor died before its transaction
    assert [e.message for e in unstored.events if e.kind == "marker"] == ["log: MARK a"]
    assert await marker_events(env.store) == []

    await env.controller.poll()
    await env.controller.poll()
    assert await marker_events(env.store) == [("s/talker", "log: MARK a")]


async def test_a_rotated_log_is_said_once_and_read_from_its_start(env: Env) -> None:
    (job,) = await start(env, None)
    say(env, job, "MARK before\n")
    await env.controller.poll()
    log = Path(job.current.log_path or "")
    log.rename(log.with_suffix(".old"))  # the job keeps writing to the renamed file
    log.write_text("MARK in the new file\nplain\nMARK again\n")

    await env.controller.poll()
    await env.controller.poll()

    assert await marker_events(env.store) == [
        ("s/talker", "log: MARK before"),
        ("s/talker", f"log rotated: {log}; markers are scanned from its start"),
        ("s/talker", "log: MARK in the new file"),
        ("s/talker", "log: MARK again"),
    ]


async def test_marker_events_per_poll_are_capped(env: Env) -> None:
    (job,) = await start(env, None, markers=("MARK", "never matches"))
    say(env, job, "".join(f"MARK {k}\n" for k in range(25)))

    await env.controller.poll()
    await env.controller.poll()

    assert [m for _, m in await marker_events(env.store)] == [f"log: MARK {k}" for k in range(20)] + [
        "… 5 more marker lines"
    ]


async def test_jobs_without_markers_read_nothing(env: Env) -> None:
    (job,) = await start(env, None, markers=())
    say(env, job, "MARK but nobody asked\n")
    reads = env.backend.reads

    await env.controller.poll()

    assert env.backend.reads == reads and await marker_events(env.store) == []
    assert [j.state for j in await env.store.jobs("s")] == [State.RUNNING]
