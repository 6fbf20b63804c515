"""Log offsets written by apply_updates: in the poll's transaction with the events they produced,
by attempt number (so an attempt found in the same poll gets its own), read back per stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.model import Attempt, Event, Job, JobSpec, JobUpdate, LogOffset, SubmitResult
from monitor.states import State
from store.codec import spec_from_json, spec_to_json
from store.session_store import SessionStore

SPEC = JobSpec("lab", "/w/run.sh", "/w", markers=("ERROR", r"^step \d+$"))


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[SessionStore, Job]]:
    """A store with one submitted job."""
    store = await SessionStore.open(tmp_path / "db.sqlite")
    sid = await store.ensure_session("s", None, {}, 1.0)
    await store.add_jobs(sid, [("j", None, SPEC)], 1.0)
    (job,) = await store.jobs("s")
    submission = await store.record_intent(sid, "j", "submit", "tag-1", "lab", [job], "sbatch", 2.0)
    await store.confirm_submission(
        submission, SubmitResult("7", {None: "7"}, "sbatch"), [(job, "/w/7.out", None)], 3.0
    )
    (job,) = await store.jobs("s")
    yield store, job
    await store.close()


def marker_update(job: Job, offset: LogOffset, message: str) -> JobUpdate:
    assert job.id is not None
    event = Event(5.0, "marker", message, job=job.key, attempt=offset.attempt)
    return JobUpdate(job.id, State.RUNNING, None, None, events=(event,), log_offsets=(offset,))


async def test_offsets_are_upserted_with_their_events(running: tuple[SessionStore, Job]) -> None:
    store, job = running
    assert job.id is not None
    first = LogOffset(1, "markers", "/w/7.out", 120, "64:9")
    await store.apply_updates([marker_update(job, first, "log: ERROR one")], 5.0)
    moved = LogOffset(1, "markers", "/w/7.out", 300, "64:10")
    await store.apply_updates([marker_update(job, moved, "log: ERROR two")], 6.0)

    assert await store.log_offsets([job.id], "markers") == {(job.id, 1): moved}
    assert await store.log_offsets([job.id], "stdout") == {}
    assert await store.log_offset(job.attempts[0].id or 0, "markers") == ("/w/7.out", 300, "64:10")
    assert [e.message for e in await store.events(job.id) if e.kind == "marker"] == [
        "log: ERROR one",
        "log: ERROR two",
    ]


async def test_a_failed_transaction_stores_neither_offset_nor_event(
    running: tuple[SessionStore, Job],
) -> None:
    store, job = running
    assert job.id is not None
    good = marker_update(job, LogOffset(1, "markers", "/w/7.out", 50), "log: ERROR lost")
    unknown_job = JobUpdate(987654, State.RUNNING, None, None, events=(Event(5.0, "marker", "x"),))

    with pytest.raises(KeyError):
        await store.apply_updates([good, unknown_job], 5.0)

    assert await store.log_offsets([job.id], "markers") == {}
    assert [e for e in await store.events(job.id) if e.kind == "marker"] == []


async def test_an_attempt_found_in_the_same_poll_gets_the_offset(running: tuple[SessionStore, Job]) -> None:
    store, job = running
    assert job.id is not None
    found = Attempt(0, "8", State.RUNNING, kind="adopt", log_path="/w/8.out")
    offset = LogOffset(2, "markers", "/w/8.out", 10)
    update = JobUpdate(job.id, State.RUNNING, None, None, new_attempt=found, log_offsets=(offset,))

    await store.apply_updates([update], 5.0)

    assert await store.log_offsets([job.id], "markers") == {(job.id, 2): offset}
    (reread,) = await store.jobs("s")
    assert await store.log_offset(reread.attempts[1].id or 0, "markers") == ("/w/8.out", 10, None)


def test_markers_travel_with_the_stored_spec_and_old_rows_have_none() -> None:
    assert spec_from_json(spec_to_json(SPEC)).markers == ("ERROR", r"^step \d+$")
    old = spec_to_json(JobSpec("lab", "/w/run.sh", "/w")).replace(',"markers":[]', "")
    assert "markers" not in old and spec_from_json(old).markers == ()
