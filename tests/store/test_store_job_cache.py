"""The store keeps a session's decoded jobs between reads: what changed is read again, whoever wrote
it (this store, another connection, a transaction that rolled back), and nothing else is."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.model import (
    Attempt,
    AttemptPatch,
    Event,
    JobSpec,
    JobUpdate,
    LogOffset,
    OutputStatus,
    SubmitResult,
)
from monitor.states import State
from store.session_store import SessionStore


def _spec(n: int) -> JobSpec:
    return JobSpec("lab", "/w/run.sh", "/w", args=("--n", str(n)))


async def _submitted(tmp_path: Path, count: int = 3) -> SessionStore:
    """A store with `count` jobs of session "s", each submitted once (QUEUED, attempt 1)."""
    store = await SessionStore.open(tmp_path / "jobdeck.db")
    sid = await store.ensure_session("s", None, {}, 1.0)
    await store.add_jobs(sid, [(f"j{n}", None, _spec(n)) for n in range(count)], 1.0)
    for n, job in enumerate(await store.jobs("s")):
        sub = await store.record_intent(sid, job.name, "submit", f"t{n}", "lab", [job], "sbatch", 2.0)
        await store.confirm_submission(
            sub, SubmitResult(str(100 + n), {None: str(100 + n)}, "sbatch"), [(job, None, None)], 3.0
        )
    return store


async def test_unchanged_jobs_are_the_same_objects_and_written_ones_are_read_again(tmp_path: Path) -> None:
    store = await _submitted(tmp_path)
    try:
        first = await store.jobs("s")
        await store.apply_updates([JobUpdate(first[1].id, State.RUNNING, None, None)], 4.0)  # type: ignore[arg-type]
        second = await store.jobs("s")
        assert second[0] is first[0] and second[2] is first[2]
        assert second[1] is not first[1]
        assert [j.state for j in second] == [State.QUEUED, State.RUNNING, State.QUEUED]
        assert [j.state for j in first] == [State.QUEUED] * 3  # what was handed out is never changed
        assert [j.name for j in await store.jobs("s", states=[State.RUNNING])] == ["j1"]
        assert [j.name for j in await store.jobs("s", ids=[first[2].id, first[0].id])] == ["j0", "j2"]  # type: ignore[list-item]
    finally:
        await store.close()


async def test_a_write_by_another_connection_is_seen_at_the_next_read(tmp_path: Path) -> None:
    store = await _submitted(tmp_path)
    try:
        before = await store.jobs("s")
        with sqlite3.connect(tmp_path / "jobdeck.db") as other:
            other.execute("UPDATE jobs SET state = 'FAILED', reason = 'by hand' WHERE name = 'j2'")
            other.execute("UPDATE attempts SET exit_code = 7 WHERE job_id = ?", (before[2].id,))
        after = await store.jobs("s")
        assert (after[2].state, after[2].reason, after[2].attempts[-1].exit_code) == (
            State.FAILED,
            "by hand",
            7,
        )
        assert after[0] is not before[0]  # another writer: everything is read afresh
    finally:
        await store.close()


async def test_the_jobs_in_some_states_follow_every_write(tmp_path: Path) -> None:
    store = await _submitted(tmp_path)
    watched = [State.QUEUED, State.RUNNING]
    try:
        first = await store.jobs("s", states=watched)
        again = await store.jobs("s", states=watched)
        assert (
            again == first and again is not first and all(a is b for a, b in zip(again, first, strict=True))
        )
        again.clear()  # the caller's own list
        await store.apply_updates([JobUpdate(first[1].id, State.FAILED, None, None)], 4.0)  # type: ignore[arg-type]
        assert [j.name for j in await store.jobs("s", states=watched)] == ["j0", "j2"]
        assert [j.name for j in await store.jobs("s", states=[State.FAILED])] == ["j1"]
        with sqlite3.connect(tmp_path / "jobdeck.db") as other:
            other.execute("UPDATE jobs SET state = 'RUNNING' WHERE name = 'j1'")
        assert [j.name for j in await store.jobs("s", states=watched)] == ["j0", "j1", "j2"]
        await store.add_jobs(await store.session_id("s"), [("late", None, _spec(9))], 5.0)
        assert [j.name for j in await store.jobs("s", states=[State.PENDING])] == ["late"]
    finally:
        await store.close()


async def test_submissions_and_new_jobs_are_seen_at_the_next_read(tmp_path: Path) -> None:
    store = await _submitted(tmp_path, count=1)
    try:
        sid = await store.session_id("s")
        (job,) = await store.jobs("s")
        await store.add_jobs(sid, [("late", None, _spec(9))], 5.0)
        late = (await store.jobs("s"))[1]
        assert (late.name, late.state, late.attempts) == ("late", State.PENDING, ())
        sub = await store.record_intent(sid, "late", "submit", "t-late", "lab", [late], "sbatch", 6.0)
        assert (await store.jobs("s"))[1].state is State.SUBMITTING
        await store.reject_submission(sub, "refused", 7.0)
        assert (await store.jobs("s"))[1].state is State.PENDING
        sub = await store.record_intent(sid, "j0", "restart", "t-again", "lab", [job], "sbatch", 8.0)
        await store.confirm_submission(
            sub, SubmitResult("200", {None: "200"}, "sbatch"), [(job, None, None)], 9.0
        )
        again = (await store.jobs("s"))[0]
        assert [a.job_id for a in again.attempts] == ["100", "200"]
    finally:
        await store.close()


async def test_a_poll_that_rolled_back_leaves_no_trace_in_what_is_read(tmp_path: Path) -> None:
    store = await _submitted(tmp_path)
    try:
        jobs = await store.jobs("s")
        good = JobUpdate(jobs[0].id, State.RUNNING, None, None)  # type: ignore[arg-type]
        broken = JobUpdate(
            jobs[1].id,
            State.RUNNING,
            None,
            None,
            outputs=(OutputStatus("/o", True), OutputStatus("/o", True)),
        )  # type: ignore[arg-type]
        with pytest.raises(StoreError):  # the same output twice breaks the outputs' primary key
            await store.apply_updates([good, broken], 4.0)
        assert [j.state for j in await store.jobs("s")] == [State.QUEUED] * 3
    finally:
        await store.close()


async def test_a_jobs_updates_in_one_poll_apply_in_their_order(tmp_path: Path) -> None:
    """Alike statements of one poll are sent together; a job's own updates still apply in order:
    the old attempt is patched before the found attempt is added, which the later patch then sets."""
    store = await _submitted(tmp_path, count=2)
    try:
        a, b = await store.jobs("s")
        found = Attempt(0, "300", State.QUEUED, kind="found", submit_time=5.0)
        updates = [
            JobUpdate(a.id, State.CANCELLED, "gone", None, attempt=AttemptPatch(state=State.CANCELLED), events=(Event(4.0, "state", "one"),)),  # type: ignore[arg-type]
            JobUpdate(b.id, State.RUNNING, None, None, attempt=AttemptPatch(state=State.RUNNING, start_time=4.0)),  # type: ignore[arg-type]
            JobUpdate(a.id, State.QUEUED, None, None, attempt=AttemptPatch(), clear_missing=True, new_attempt=found, events=(Event(4.0, "found", "two"),)),  # type: ignore[arg-type]
            JobUpdate(a.id, State.RUNNING, None, None, attempt=AttemptPatch(state=State.RUNNING, start_time=6.0),  # type: ignore[arg-type]
                      log_offsets=(LogOffset(2, "markers", "/log", 10),), outputs=(OutputStatus("/o", False, "missing"),)),
        ]  # fmt: skip
        await store.apply_updates(updates, 7.0)
        a, b = await store.jobs("s")
        assert [(x.job_id, x.state, x.start_time) for x in a.attempts] == [
            ("100", State.CANCELLED, None),
            ("300", State.RUNNING, 6.0),
        ]
        assert (a.state, a.outputs_expected, a.outputs_verified) == (State.RUNNING, 1, 0)
        assert (b.state, b.attempts[-1].start_time) == (State.RUNNING, 4.0)
        offsets = await store.log_offsets([a.id], "markers")  # type: ignore[list-item]
        assert offsets == {(a.id, 2): LogOffset(2, "markers", "/log", 10)}
        assert [e.message for e in await store.events(a.id) if e.kind in ("state", "found")] == ["one", "two"]
    finally:
        await store.close()


async def test_ten_thousand_jobs_are_read_again_only_where_they_changed(tmp_path: Path) -> None:
    store = await SessionStore.open(tmp_path / "jobdeck.db")
    try:
        sid = await store.ensure_session("s", None, {}, 1.0)
        await store.add_jobs(sid, [("sweep", n, _spec(n)) for n in range(10_000)], 1.0)
        jobs = await store.jobs("s")
        changed = jobs[::100]
        await store.apply_updates([JobUpdate(j.id, State.QUEUED, "held", None) for j in changed], time.time())  # type: ignore[arg-type]
        again = await store.jobs("s")
        fresh = [j for j, k in zip(jobs, again, strict=True) if j is not k]
        assert [j.task for j in fresh] == [j.task for j in changed]
        assert {j.reason for j in again} == {None, "held"}
    finally:
        await store.close()
