"""A poll's updates are not read back: the store takes the jobs as they read from what it wrote
(store.written). They read exactly as a fresh read of the file does, down to the types SQLite
gives back, whatever the updates."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.model import KEEP, AttemptPatch, Event, JobSpec, JobUpdate, SubmitResult
from monitor.states import State
from store.session_store import SessionStore

TIMES = st.one_of(st.none(), st.integers(1, 10**9), st.floats(1, 1e9, allow_nan=False))
NUMBERS = st.one_of(st.none(), st.integers(-5, 300), st.sampled_from([3.0, 0.0, 2.5]))
PATCHES = st.one_of(
    st.none(),
    st.builds(
        AttemptPatch,
        raw_state=st.sampled_from([KEEP, None, "PENDING", "RUNNING"]),
        state=st.sampled_from([KEEP, State.QUEUED, State.RUNNING]),
        reason=st.sampled_from([KEEP, None, "Priority"]),
        exit_code=st.one_of(st.just(KEEP), NUMBERS),
        submit_time=st.one_of(st.just(KEEP), TIMES),
        start_time=st.one_of(st.just(KEEP), TIMES),
        end_time=st.one_of(st.just(KEEP), TIMES),
        requeues=st.one_of(st.just(KEEP), st.integers(0, 3), st.just(2.0)),
        log_size=st.one_of(st.just(KEEP), NUMBERS),
        log_grew_at=st.one_of(st.just(KEEP), TIMES),
    ),
)
UPDATES = st.tuples(
    st.integers(0, 3),
    st.sampled_from([State.QUEUED, State.RUNNING, State.FAILED]),
    st.sampled_from([None, "held"]),
    NUMBERS,
    TIMES,
    st.booleans(),
    PATCHES,
)
POLLS = st.lists(
    st.tuples(st.lists(UPDATES, max_size=6), st.one_of(st.integers(1, 10**9), st.floats(1, 1e9))), max_size=5
)


async def _submitted(db: Path) -> SessionStore:
    store = await SessionStore.open(db)
    sid = await store.ensure_session("s", None, {}, 1.0)
    await store.add_jobs(sid, [(f"j{n}", None, JobSpec("lab", "/w/run.sh", "/w")) for n in range(4)], 1.0)
    for n, job in enumerate(await store.jobs("s")):
        sub = await store.record_intent(sid, job.name, "submit", f"t{n}", "lab", [job], "sbatch", 2.0)
        result = SubmitResult(str(100 + n), {None: str(100 + n)}, "sbatch")
        await store.confirm_submission(sub, result, [(job, "/w/log", None)], 3.0)
    return store


async def _check(polls: list) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "jobdeck.db"
        store = await _submitted(db)
        try:
            ids = [job.id for job in await store.jobs("s")]
            for updates, now in polls:
                await store.apply_updates(
                    [
                        JobUpdate(
                            ids[n], state, reason, code, patch, missing, clear, events=(Event(1.0, "x", "m"),)
                        )  # type: ignore[arg-type]
                        for n, state, reason, code, missing, clear, patch in updates
                    ],
                    now,
                )
                read = store._read_jobs
                store._read_jobs = None  # type: ignore[assignment,method-assign]  # nothing is read back
                try:
                    cached = await store.jobs("s")
                finally:
                    store._read_jobs = read  # type: ignore[method-assign]
                fresh = await SessionStore.open(db)
                try:
                    assert repr(cached) == repr(await fresh.jobs("s"))
                finally:
                    await fresh.close()
        finally:
            await store.close()


@settings(deadline=None, max_examples=60)
@given(POLLS)
def test_the_jobs_a_poll_wrote_read_as_a_fresh_read(polls: list) -> None:
    asyncio.run(_check(polls))
