"""The session store: private files, versioned schema, refusals that leave the file untouched,
and one transaction per poll."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.model import Event, JobSpec, JobUpdate, OutputCheck, SubmitResult
from monitor.states import State
from store.schema import LATEST
from store.session_store import SessionStore

SPEC = JobSpec("lab", "/w/run.sh", "/w", args=("--x", "1"), outputs=(OutputCheck("/w/out"),))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_creates_owner_only_files_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "state" / "jobdeck.db"
    store = await SessionStore.open(db)
    try:
        await store.ensure_session("s", None, {}, 1.0)
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
        assert await store.db.scalar("PRAGMA journal_mode") == "wal"
        assert await store.db.scalar("PRAGMA user_version") == LATEST
        wal = db.with_name(db.name + "-wal")
        assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        await store.close()


async def test_newer_schema_is_refused_and_the_file_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 5}")
    before = _digest(db)
    with pytest.raises(StoreError, match="newer than this jobdeck") as caught:
        await SessionStore.open(db)
    assert "\n" not in str(caught.value)
    assert _digest(db) == before


async def test_corrupt_file_is_refused_with_a_recovery_hint(tmp_path: Path) -> None:
    db = tmp_path / "garbage.db"
    db.write_bytes(b"this is not sqlite at all" * 200)
    before = _digest(db)
    with pytest.raises(StoreError, match=r"corrupt.*\.recover"):
        await SessionStore.open(db)
    assert _digest(db) == before


async def test_jobs_attempts_events_round_trip(tmp_path: Path) -> None:
    store = await SessionStore.open(tmp_path / "j.db")
    try:
        sid = await store.ensure_session("s", "/m.toml", {"session": {"name": "s"}}, 10.0)
        added = await store.add_jobs(sid, [("a", None, SPEC), ("b", 0, SPEC), ("b", 1, SPEC)], 10.0)
        assert added == 3
        assert await store.add_jobs(sid, [("a", None, SPEC)], 11.0) == 0  # known jobs are not duplicated
        jobs = await store.jobs("s")
        assert [(j.name, j.task, j.state) for j in jobs] == [
            ("a", None, State.PENDING),
            ("b", 0, State.PENDING),
            ("b", 1, State.PENDING),
        ]
        assert jobs[0].spec == SPEC

        sub = await store.record_intent(sid, "b", "submit", "tag-1", "lab", jobs[1:], "sbatch ...", 12.0)
        assert {j.state for j in await store.jobs("s", states=[State.SUBMITTING])} == {State.SUBMITTING}
        result = SubmitResult("40", {0: "40_0", 1: "40_1"}, "sbatch --array=0-1")
        await store.confirm_submission(sub, result, [(j, f"/w/log-{j.task}", None) for j in jobs[1:]], 13.0)
        b0 = (await store.jobs_by_scheduler_id("40_0"))[0]
        assert (b0.state, b0.job_id, b0.current.log_path) == (State.QUEUED, "40_0", "/w/log-0")
        assert len(await store.jobs_by_scheduler_id("40")) == 2  # an array's base ID finds every task
        submitted = await store.submission(sub)
        assert (submitted.status, submitted.scheduler_id, submitted.tasks) == ("submitted", "40", (0, 1))
        kinds = [e.kind for e in await store.events(b0.id)]
        assert kinds == ["submit", "submit"]
    finally:
        await store.close()


async def test_rejected_submission_restores_the_prior_state(tmp_path: Path) -> None:
    store = await SessionStore.open(tmp_path / "r.db")
    try:
        sid = await store.ensure_session("s", None, {}, 1.0)
        await store.add_jobs(sid, [("a", None, SPEC)], 1.0)
        jobs = await store.jobs("s")
        sub = await store.record_intent(sid, "a", "submit", "t", "lab", jobs, "sbatch", 2.0)
        await store.reject_submission(sub, "sbatch: error: invalid partition", 3.0)
        job = (await store.jobs("s"))[0]
        assert job.state is State.PENDING and job.reason == "submit rejected"
        assert (await store.submission(sub)).status == "rejected"
    finally:
        await store.close()


async def test_a_submission_is_settled_once_whoever_settles_it_first(tmp_path: Path) -> None:
    """A monitor confirms an intent by its tag while the submit that wrote it is still waiting for
    sbatch's answer: the submit's own confirmation (or rejection) then records nothing again."""
    store = await SessionStore.open(tmp_path / "once.db")
    try:
        sid = await store.ensure_session("s", None, {}, 1.0)
        await store.add_jobs(sid, [("a", None, SPEC)], 1.0)
        jobs = await store.jobs("s")
        sub = await store.record_intent(sid, "a", "submit", "t", "lab", jobs, "sbatch", 2.0)
        result = SubmitResult("41", {None: "41"}, "sbatch ...")
        await store.confirm_submission(sub, result, [(jobs[0], "/w/log", None)], 3.0)  # the monitor
        await store.confirm_submission(sub, result, [(jobs[0], "/w/log", None)], 4.0)  # the submit
        await store.reject_submission(sub, "sbatch: error: timed out", 5.0)
        (job,) = await store.jobs("s")
        assert [(a.number, a.job_id) for a in job.attempts] == [(1, "41")], job.attempts
        assert (job.state, (await store.submission(sub)).status) == (State.QUEUED, "submitted")
    finally:
        await store.close()


async def test_a_failing_poll_transaction_changes_nothing(tmp_path: Path) -> None:
    store = await SessionStore.open(tmp_path / "t.db")
    try:
        sid = await store.ensure_session("s", None, {}, 1.0)
        await store.add_jobs(sid, [("a", None, SPEC), ("b", None, SPEC)], 1.0)
        a, _ = await store.jobs("s")
        good = JobUpdate(a.id, State.CANCELLED, "x", None, events=(Event(2.0, "state", "m"),))
        bad = JobUpdate(999_999, State.FAILED, None, None, events=(Event(2.0, "state", "m"),))
        with pytest.raises(KeyError):
            await store.apply_updates([good, bad], 2.0)
        assert [j.state for j in await store.jobs("s")] == [State.PENDING, State.PENDING]
        assert await store.events(a.id) == []
    finally:
        await store.close()


async def test_read_only_open_refuses_writes(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    store = await SessionStore.open(db)
    await store.ensure_session("s", None, {}, 1.0)
    await store.close()
    ro = await SessionStore.open(db, read_only=True)
    try:
        assert [s.name for s in await ro.sessions()] == ["s"]
        with pytest.raises(StoreError, match="read-only"):
            await ro.ensure_session("t", None, {}, 2.0)
    finally:
        await ro.close()


async def test_log_offsets_persist(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    store = await SessionStore.open(db)
    sid = await store.ensure_session("s", None, {}, 1.0)
    await store.add_jobs(sid, [("a", None, SPEC)], 1.0)
    jobs = await store.jobs("s")
    sub = await store.record_intent(sid, "a", "submit", "t", "lab", jobs, "sbatch", 2.0)
    await store.confirm_submission(
        sub, SubmitResult("5", {None: "5"}, "sbatch"), [(jobs[0], "/l", None)], 3.0
    )
    attempt_id = (await store.jobs("s"))[0].current.id
    await store.save_log_offset(attempt_id, "stdout", "/l", 1234, "dev:ino", 4.0)
    await store.close()
    again = await SessionStore.open(db)
    try:
        assert await again.log_offset(attempt_id, "stdout") == ("/l", 1234, "dev:ino")
    finally:
        await again.close()
