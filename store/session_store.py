"""Every read and write the engine and the views make, each write one transaction."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from monitor.errors import ChangedMeanwhile, InputError
from monitor.model import (
    Attempt,
    Event,
    Job,
    JobKey,
    JobSpec,
    JobUpdate,
    Lease,
    LogOffset,
    OutputStatus,
    SessionSummary,
    Submission,
    SubmitResult,
)
from monitor.states import State
from store.codec import ATTEMPT_COLUMNS, STATES, attempt_from_row, spec_to_json, specs_from_json
from store.database import Database
from store.job_cache import JobCache
from store.written import stored_as

_MAX_REFRESH = 900  # stale jobs read by id; more and the whole session is read again (fewer SQL variables)
_JOB_COLUMNS = (
    "j.id, s.name, j.name, j.task, j.cluster, j.state, j.reason, j.exit_code, j.spec, j.missing_since, "
    "j.outputs_verified, j.outputs_expected, j.updated_at"
)


class SessionStore:
    """The session database. Open with `await SessionStore.open(path)`; close when done."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache = JobCache()

    @classmethod
    async def open(cls, path: Path | str, *, read_only: bool = False) -> SessionStore:
        return cls(await Database.open(path, read_only=read_only))

    @property
    def path(self) -> Path:
        return self.db.path

    @property
    def read_only(self) -> bool:
        return self.db.read_only

    async def close(self) -> None:
        await self.db.close()

    @asynccontextmanager
    async def _writing(self, job_ids: list[int | None] | None) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction of jobs: the cached ones it touched (all, for None) are read again
        at the next read, whether it committed or not. A write that changes specs passes None:
        a touched job is read again with the spec it had."""
        try:
            async with self.db.transaction() as conn:
                yield conn
        finally:
            if job_ids is None:
                self._cache.forget()
            else:
                self._cache.touch(job_ids)

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self.db.rows(sql, params)

    # -- sessions ---------------------------------------------------------------------------

    async def ensure_session(
        self, name: str, manifest_path: str | None, manifest: dict[str, Any], now: float
    ) -> int:
        """Create the session, or refresh its manifest snapshot; returns its id."""
        doc = json.dumps(manifest, sort_keys=True, default=str)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO sessions (name, manifest_path, manifest, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET manifest_path = excluded.manifest_path, "
                "manifest = excluded.manifest, updated_at = excluded.updated_at",
                (name, manifest_path, doc, now, now),
            )
        return int(await self.db.scalar("SELECT id FROM sessions WHERE name = ?", (name,)))

    async def session_id(self, name: str) -> int:
        sid = await self.db.scalar("SELECT id FROM sessions WHERE name = ?", (name,))
        if sid is None:
            raise InputError(f"no session named {name!r} in {self.path}")
        return int(sid)

    async def session_manifest(self, name: str) -> tuple[str | None, dict[str, Any]]:
        rows = await self._rows("SELECT manifest_path, manifest FROM sessions WHERE name = ?", (name,))
        if not rows:
            raise InputError(f"no session named {name!r} in {self.path}")
        return rows[0][0], json.loads(rows[0][1] or "{}")

    async def sessions(self) -> list[SessionSummary]:
        counts: dict[str, dict[State, int]] = defaultdict(dict)
        for session, state, n in await self._rows(
            "SELECT s.name, j.state, count(*) FROM jobs j JOIN sessions s ON s.id = j.session_id "
            "GROUP BY s.name, j.state"
        ):
            counts[session][State(state)] = n
        rows = await self._rows(
            "SELECT s.name, s.manifest_path, s.created_at, "
            "max(s.updated_at, IFNULL((SELECT max(at) FROM events e WHERE e.session_id = s.id), 0)), "
            "s.last_cycle_at, s.last_cycle_by, l.holder, l.acquired_at, l.renewed_at, l.expires_at "
            "FROM sessions s LEFT JOIN leases l ON l.session_id = s.id AND l.expires_at > ? ORDER BY s.name",
            (time.time(),),
        )
        return [
            SessionSummary(
                r[0], r[1], r[2], r[3], counts.get(r[0], {}), r[4], r[5], Lease(*r[6:10]) if r[6] else None
            )
            for r in rows
        ]

    async def record_cycle(self, session: str, holder: str, at: float) -> None:
        """A monitor completed a whole cycle of the session: the mark the unwatched notice goes by."""
        session_id = await self.session_id(session)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE sessions SET last_cycle_at = ?, last_cycle_by = ? WHERE id = ?",
                (at, holder, session_id),
            )

    # -- jobs -------------------------------------------------------------------------------

    async def add_jobs(
        self, session_id: int, definitions: Iterable[tuple[str, int | None, JobSpec]], now: float
    ) -> int:
        """Register logical jobs as PENDING; a job already known keeps its state and gets the new
        spec for its next attempt. Returns how many were new."""
        before = await self.db.scalar("SELECT count(*) FROM jobs WHERE session_id = ?", (session_id,))
        async with self._writing(None) as conn:
            await conn.executemany(
                "INSERT INTO jobs (session_id, name, task, cluster, state, spec, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'PENDING', ?, ?, ?) "
                "ON CONFLICT(session_id, name, IFNULL(task, -1)) DO UPDATE SET spec = excluded.spec, "
                "cluster = excluded.cluster",
                [(session_id, n, t, s.cluster, spec_to_json(s), now, now) for n, t, s in definitions],
            )
        after = await self.db.scalar("SELECT count(*) FROM jobs WHERE session_id = ?", (session_id,))
        return int(after) - int(before)

    async def jobs(
        self,
        session: str | None = None,
        states: Iterable[State] | None = None,
        ids: Iterable[int] | None = None,
    ) -> list[Job]:
        """Jobs with their attempts, by session, then in manifest order. A session's jobs are decoded
        once and shared by later reads until they change (store.job_cache): treat them as read-only."""
        if session is None:
            return await self._read_jobs(states=states, ids=ids)
        by_id = await self._session_jobs(session)
        if ids is None and states is not None:
            return list(self._cache.in_states(session, by_id, frozenset(states)))
        chosen = by_id.values() if ids is None else [by_id[i] for i in sorted(set(ids)) if i in by_id]
        if states is None:
            return list(chosen)
        wanted = frozenset(states)
        return [job for job in chosen if job.state in wanted]

    async def _session_jobs(self, session: str) -> dict[int, Job]:
        """The session's jobs by id, read afresh only where they changed since the last read."""
        cache = self._cache
        cache.check(await self.db.scalar("PRAGMA data_version"))
        writes = cache.writes
        by_id = cache.sessions.get(session)
        if by_id is None:
            return cache.keep(session, await self._read_jobs(session=session), writes)
        stale = [job_id for job_id in cache.stale if job_id in by_id]
        unknown = [job_id for job_id in stale if job_id not in cache.written]
        if len(unknown) > _MAX_REFRESH:
            return cache.keep(session, await self._read_jobs(session=session), writes)
        if stale:
            written = [cache.written[job_id] for job_id in stale if job_id in cache.written]
            read = await self._read_jobs(ids=unknown, known=by_id) if unknown else []
            cache.refresh(by_id, [*written, *read], stale, writes)
        return by_id

    async def _read_jobs(
        self,
        session: str | None = None,
        states: Iterable[State] | None = None,
        ids: Iterable[int] | None = None,
        known: Mapping[int, Job] | None = None,
    ) -> list[Job]:
        """`known`: jobs read before, whose spec has not changed since (it is not decoded again)."""
        where: list[str] = []
        params: list[Any] = []
        if session is not None:
            where.append("s.name = ?")
            params.append(session)
        if states is not None:
            wanted = [s.value for s in states]
            where.append(f"j.state IN ({','.join('?' * len(wanted))})" if wanted else "0")
            params.extend(wanted)
        if ids is not None:
            id_list = list(ids)
            where.append(f"j.id IN ({','.join('?' * len(id_list))})" if id_list else "0")
            params.extend(id_list)
        clause = "FROM jobs j JOIN sessions s ON s.id = j.session_id" + (
            f" WHERE {' AND '.join(where)}" if where else ""
        )
        rows = await self._rows(f"SELECT {_JOB_COLUMNS} {clause} ORDER BY s.name, j.id", params)
        known = known or {}
        unknown = [r for r in rows if r[0] not in known]
        decoded = dict(zip([r[0] for r in unknown], specs_from_json([r[8] for r in unknown]), strict=True))
        attempts: dict[int, list[Attempt]] = defaultdict(list)
        for row in await self._rows(
            f"SELECT {ATTEMPT_COLUMNS} FROM attempts a WHERE a.job_id IN (SELECT j.id {clause}) "
            "ORDER BY a.job_id, a.number",
            params,
        ):
            attempts[row[1]].append(attempt_from_row(row))
        return [  # a job added between the two reads comes with the next one, its attempts too
            _job_from_row(r, known[r[0]].spec if r[0] in known else decoded[r[0]], attempts.get(r[0], ()))
            for r in rows
        ]

    async def jobs_by_scheduler_id(self, scheduler_id: str) -> list[Job]:
        """Jobs whose attempt (any, not only the current) carried this scheduler ID; a plain
        array base ID ("123") matches each of its tasks ("123_4")."""
        rows = await self._rows(
            "SELECT DISTINCT job_id FROM attempts WHERE scheduler_id = ? OR scheduler_id LIKE ? ESCAPE '\\'",
            (scheduler_id, f"{scheduler_id}\\_%" if "_" not in scheduler_id else scheduler_id),
        )
        return await self.jobs(ids=[r[0] for r in rows]) if rows else []

    async def sessions_of(self, scheduler_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """(session, cluster) of the jobs whose attempts carried each of these scheduler IDs:
        how the user's queue names the session a job belongs to."""
        found: dict[str, list[tuple[str, str]]] = {}
        ids = list(dict.fromkeys(scheduler_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await self._rows(
                "SELECT DISTINCT a.scheduler_id, s.name, j.cluster FROM attempts a"
                " JOIN jobs j ON j.id = a.job_id JOIN sessions s ON s.id = j.session_id"
                f" WHERE a.scheduler_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for scheduler_id, session, cluster in rows:
                found.setdefault(scheduler_id, []).append((session, cluster))
        return found

    # -- submissions ------------------------------------------------------------------------

    async def record_intent(
        self,
        session_id: int,
        job_name: str,
        kind: str,
        tag: str,
        cluster: str,
        jobs: Sequence[Job],
        command: str,
        now: float,
        parent_id: int | None = None,
    ) -> int:
        """Write the intent and move its jobs to SUBMITTING, before anything is sent."""
        prior = {str(j.id): j.state.value for j in jobs}
        tasks = [j.task for j in jobs]
        async with self._writing([j.id for j in jobs]) as conn:
            cursor = await conn.execute(
                "INSERT INTO submissions (session_id, job_name, kind, tag, cluster, tasks, command, status, "
                "prior, parent_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'intent', ?, ?, ?)",
                (session_id, job_name, kind, tag, cluster, json.dumps(tasks), command, json.dumps(prior),
                 parent_id, now),
            )  # fmt: skip
            submission_id = cursor.lastrowid
            await _refuse_changed(conn, jobs)
            await conn.executemany(
                "UPDATE jobs SET state = 'SUBMITTING', reason = NULL, missing_since = NULL, updated_at = ? "
                "WHERE id = ?",
                [(now, j.id) for j in jobs],
            )
            await _insert_events(
                conn,
                session_id,
                [
                    (j.id, Event(now, kind, f"{kind}: intent {tag} written", j.state, State.SUBMITTING))
                    for j in jobs
                ],
            )
        assert submission_id is not None
        return submission_id

    async def confirm_submission(
        self,
        submission_id: int,
        result: SubmitResult,
        attempts: Sequence[tuple[Job, str | None, str | None]],
        now: float,
    ) -> None:
        """The scheduler accepted: one new attempt per job (with its resolved log paths), QUEUED.
        Once only: a monitor may have settled the intent by its tag meanwhile (intent before action)."""
        sub = await self.submission(submission_id)
        session_id = await self.session_id(sub.session)
        async with self._writing([job.id for job, _, _ in attempts]) as conn:
            settled = await conn.execute(
                "UPDATE submissions SET status = 'submitted', scheduler_id = ?, command = ?, settled_at = ? "
                "WHERE id = ? AND status = 'intent'",
                (result.job_id, result.command, now, submission_id),
            )
            if settled.rowcount == 0:
                return
            events = []
            for job, log_path, err_path in attempts:
                number = len(job.attempts) + 1
                scheduler_id = result.task_ids.get(job.task, result.job_id)
                await conn.execute(
                    "INSERT INTO attempts (job_id, number, submission_id, kind, scheduler_id, state, submit_time, "
                    "log_path, err_path) VALUES (?, ?, ?, ?, ?, 'QUEUED', ?, ?, ?)",
                    (job.id, number, submission_id, sub.kind, scheduler_id, now, log_path, err_path),
                )
                await conn.execute("DELETE FROM outputs WHERE job_id = ?", (job.id,))
                await conn.execute(
                    "UPDATE jobs SET state = 'QUEUED', reason = NULL, exit_code = NULL, missing_since = NULL, "
                    "outputs_verified = NULL, updated_at = ? WHERE id = ?",
                    (now, job.id),
                )
                message = f"{sub.kind}: scheduler ID {scheduler_id} (attempt {number})"
                events.append(
                    (job.id, Event(now, sub.kind, message, State.SUBMITTING, State.QUEUED, attempt=number))
                )
            await _insert_events(conn, session_id, events)

    async def record_adoption(
        self,
        session: str,
        new_manifest: dict[str, Any],
        cluster: dict[str, Any],
        adopted: Sequence[tuple[str, int | None, JobSpec, str, str | None, str | None]],
        command: str,
        now: float,
    ) -> None:
        """Jobs submitted outside jobdeck, in one transaction: the session (`new_manifest` when it
        is new, else `cluster` added to its stored manifest, so it is monitored like any other), each
        (name, task, spec, scheduler ID, log, err) as a logical job, and its first attempt, of kind
        adopt, under its own scheduler ID."""
        rows = await self._rows("SELECT id, manifest FROM sessions WHERE name = ?", (session,))
        manifest = json.loads(rows[0][1] or "{}") if rows else dict(new_manifest)
        clusters = manifest.setdefault("clusters", {})
        known = clusters.get(cluster["name"])
        if known is not None and known != cluster:
            raise InputError(
                f"session {session!r} already has a cluster {cluster['name']!r} set up otherwise "
                f"({known.get('backend')}, host {known.get('host')}): adopt into another --session"
            )
        clusters[cluster["name"]] = cluster
        names = {(name, task) for name, task, *_ in adopted}
        taken = await self._rows(
            "SELECT j.name, j.task FROM jobs j JOIN sessions s ON s.id = j.session_id WHERE s.name = ?",
            (session,),
        )
        clash = sorted({name for name, task in taken if (name, task) in names})
        if clash:
            raise InputError(
                f"session {session!r} already has a job named {clash[0]!r}: adopt into another --session"
            )
        doc = json.dumps(manifest, sort_keys=True, default=str)
        async with self._writing(None) as conn:
            await conn.execute(
                "INSERT INTO sessions (name, manifest_path, manifest, created_at, updated_at) VALUES (?, NULL, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET manifest = excluded.manifest, updated_at = excluded.updated_at",
                (session, doc, now, now),
            )
            cursor = await conn.execute("SELECT id FROM sessions WHERE name = ?", (session,))
            row = await cursor.fetchone()
            assert row is not None, "the session was just written"
            session_id = row[0]
            first = adopted[0]
            cursor = await conn.execute(
                "INSERT INTO submissions (session_id, job_name, kind, tag, cluster, tasks, command, status, "
                "scheduler_id, created_at, settled_at) VALUES (?, ?, 'adopt', ?, ?, ?, ?, 'submitted', ?, ?, ?)",
                (session_id, first[0], f"adopt:{uuid.uuid4().hex[:12]}", first[2].cluster,
                 json.dumps([task for _, task, *_ in adopted]), command, first[3].split("_", 1)[0], now, now),
            )  # fmt: skip
            submission_id = cursor.lastrowid
            events = []
            for name, task, spec, scheduler_id, log, err in adopted:
                cursor = await conn.execute(
                    "INSERT INTO jobs (session_id, name, task, cluster, state, spec, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, 'QUEUED', ?, ?, ?)",
                    (session_id, name, task, spec.cluster, spec_to_json(spec), now, now),
                )
                job_id = cursor.lastrowid
                await conn.execute(
                    "INSERT INTO attempts (job_id, number, submission_id, kind, scheduler_id, state, log_path, "
                    "err_path) VALUES (?, 1, ?, 'adopt', ?, 'QUEUED', ?, ?)",
                    (job_id, submission_id, scheduler_id, log, err),
                )
                message = f"adopt: scheduler ID {scheduler_id}, submitted outside jobdeck (attempt 1)"
                events.append((job_id, Event(now, "adopt", message, None, State.QUEUED, attempt=1)))
            await _insert_events(conn, session_id, events)

    async def reject_submission(
        self,
        submission_id: int,
        message: str,
        now: float,
        reason: str = "submit rejected",
        status: str = "rejected",
    ) -> None:
        """Nothing was submitted (refused, never sent, or never arrived): the jobs go back to the
        state they had before the intent, with `message` in their history. Once only, as confirming."""
        rows = await self._rows("SELECT session_id, prior FROM submissions WHERE id = ?", (submission_id,))
        session_id, prior_json = rows[0]
        prior: dict[str, str] = json.loads(prior_json or "{}")
        async with self._writing([int(jid) for jid in prior]) as conn:
            settled = await conn.execute(
                "UPDATE submissions SET status = ?, error = ?, settled_at = ? WHERE id = ? AND status = 'intent'",
                (status, message, now, submission_id),
            )
            if settled.rowcount == 0:
                return  # settled meanwhile by a monitor
            await conn.executemany(
                "UPDATE jobs SET state = ?, reason = ?, updated_at = ? WHERE id = ? AND state = 'SUBMITTING'",
                [(state, reason, now, int(jid)) for jid, state in prior.items()],
            )
            await _insert_events(
                conn,
                session_id,
                [
                    (int(jid), Event(now, status, message, State.SUBMITTING, State(st)))
                    for jid, st in prior.items()
                ],
            )

    async def submission(self, submission_id: int) -> Submission:
        found = await self.submissions(submission_id=submission_id)
        if not found:
            raise KeyError(submission_id)
        return found[0]

    async def submissions(
        self, *, session: str | None = None, status: str | None = None, submission_id: int | None = None
    ) -> list[Submission]:
        """Submissions, oldest first, narrowed by whichever of the filters are given."""
        filters = {"s.name": session, "sub.status": status, "sub.id": submission_id}
        where = [f"{column} = ?" for column, value in filters.items() if value is not None]
        rows = await self._rows(
            "SELECT sub.id, s.name, sub.job_name, sub.kind, sub.tag, sub.cluster, sub.tasks, sub.status, "
            "sub.created_at, sub.command, sub.scheduler_id, sub.error, sub.parent_id "
            "FROM submissions sub JOIN sessions s ON s.id = sub.session_id "
            f"WHERE {' AND '.join(where) or '1'} ORDER BY sub.id",
            [value for value in filters.values() if value is not None],
        )
        return [
            Submission(r[0], r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])), r[7], r[8], r[9], r[10],
                       r[11], r[12])
            for r in rows
        ]  # fmt: skip

    # -- polls ------------------------------------------------------------------------------

    async def apply_updates(self, updates: Sequence[JobUpdate], now: float) -> None:
        """Everything one poll learned, in one transaction. Alike statements go to SQLite together
        (executemany, in rounds in which each job appears once), so a job's own updates keep their order."""
        if not updates:
            return
        by_job: dict[int, list[JobUpdate]] = defaultdict(list)
        for update in updates:
            by_job[update.job_db_id].append(update)
        async with self._writing(list(by_job)) as conn:
            before = self._cache.current(by_job)  # under the write lock: no other write meanwhile
            for batch in _rounds(updates):
                await _apply_round(conn, batch, now)
            await conn.executemany(
                "INSERT INTO events (session_id, job_id, attempt, at, kind, from_state, to_state, message) "
                "SELECT session_id, id, ?, ?, ?, ?, ?, ? FROM jobs WHERE id = ?",
                [(e.attempt, e.at, e.kind, e.from_state.value if e.from_state else None,
                  e.to_state.value if e.to_state else None, e.message, u.job_db_id)
                 for u in updates for e in u.events],
            )  # fmt: skip
        after = (stored_as(job, by_job[job_id], now) for job_id, job in before.items())
        self._cache.wrote(job for job in after if job is not None)  # committed: no need to read them back

    async def outputs(self, job_db_id: int) -> list[OutputStatus]:
        """The outputs as last checked, missing ones first."""
        rows = await self._rows(
            "SELECT path, present, problem, size FROM outputs WHERE job_id = ? ORDER BY present, path",
            (job_db_id,),
        )
        return [OutputStatus(r[0], bool(r[1]), r[2], r[3]) for r in rows]

    async def known_scheduler_ids(self) -> set[str]:
        """Every scheduler ID any attempt of any session ever had (so nothing is adopted twice)."""
        return {
            r[0]
            for r in await self._rows(
                "SELECT DISTINCT scheduler_id FROM attempts WHERE scheduler_id IS NOT NULL"
            )
        }

    async def open_intents(self, session: str) -> list[Submission]:
        """Submissions written as intents whose outcome was never recorded (a crash, a dropped link)."""
        return await self.submissions(session=session, status="intent")

    # -- the lease --------------------------------------------------------------------------

    async def claim_lease(
        self, session: str, holder: str, now: float, ttl: float, replace: str | None = None
    ) -> Lease:
        """Take or renew the session's lease unless another live holder has it (`replace` names a
        holder known to be dead, whose lease is taken at once); returns the lease as it stands
        afterwards (compare its holder with yours)."""
        session_id = await self.session_id(session)
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT holder, acquired_at, renewed_at, expires_at FROM leases WHERE session_id = ?",
                (session_id,),
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None and row[0] not in (holder, replace) and row[3] > now:
                return Lease(*row)
            acquired = row[1] if row is not None and row[0] == holder else now
            await conn.execute(
                "INSERT INTO leases (session_id, holder, acquired_at, renewed_at, expires_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(session_id) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, "
                "renewed_at = excluded.renewed_at, expires_at = excluded.expires_at",
                (session_id, holder, acquired, now, now + ttl),
            )
        return Lease(holder, acquired, now, now + ttl)

    async def release_lease(self, session: str, holder: str) -> None:
        session_id = await self.session_id(session)
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM leases WHERE session_id = ? AND holder = ?", (session_id, holder))

    # -- events -----------------------------------------------------------------------------

    async def events(
        self, job_db_id: int | None = None, session: str | None = None, limit: int = 1000
    ) -> list[Event]:
        where: list[str] = []
        params: list[Any] = []
        if job_db_id is not None:
            where.append("e.job_id = ?")
            params.append(job_db_id)
        if session is not None:
            where.append("s.name = ?")
            params.append(session)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._rows(
            "SELECT e.at, e.kind, e.message, e.from_state, e.to_state, s.name, j.name, j.task, e.attempt "
            f"FROM events e JOIN sessions s ON s.id = e.session_id LEFT JOIN jobs j ON j.id = e.job_id {clause} "
            "ORDER BY e.at, e.id LIMIT ?",
            [*params, limit],
        )
        return [
            Event(r[0], r[1], r[2], State(r[3]) if r[3] else None, State(r[4]) if r[4] else None,
                  JobKey(r[5], r[6], r[7]) if r[6] is not None else None, r[8])
            for r in rows
        ]  # fmt: skip

    async def events_after(self, session: str, after_id: int) -> list[tuple[int, Event]]:
        """A session's events with an id above `after_id`, oldest first (for a follower)."""
        rows = await self._rows(
            "SELECT e.id, e.at, e.kind, e.message, e.from_state, e.to_state, s.name, j.name, j.task, e.attempt "
            "FROM events e JOIN sessions s ON s.id = e.session_id LEFT JOIN jobs j ON j.id = e.job_id "
            "WHERE s.name = ? AND e.id > ? ORDER BY e.id",
            (session, after_id),
        )
        return [
            (r[0], Event(r[1], r[2], r[3], State(r[4]) if r[4] else None, State(r[5]) if r[5] else None,
                         JobKey(r[6], r[7], r[8]) if r[7] is not None else None, r[9]))
            for r in rows
        ]  # fmt: skip

    # -- log offsets ------------------------------------------------------------------------

    async def log_offsets(self, job_db_ids: Iterable[int], stream: str) -> dict[tuple[int, int], LogOffset]:
        """The stored offsets of `stream` by (job row id, attempt number), for the poll's readers."""
        found = {}
        ids = list(job_db_ids)
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            for job_id, number, path, offset, identity in await self._rows(
                "SELECT a.job_id, a.number, o.path, o.offset, o.identity FROM log_offsets o "
                f"JOIN attempts a ON a.id = o.attempt_id WHERE o.stream = ? AND a.job_id IN "
                f"({','.join('?' * len(chunk))})",
                [stream, *chunk],
            ):
                found[job_id, number] = LogOffset(number, stream, path, offset, identity)
        return found

    async def log_offset(self, attempt_id: int, stream: str) -> tuple[str, int, str | None] | None:
        rows = await self._rows(
            "SELECT path, offset, identity FROM log_offsets WHERE attempt_id = ? AND stream = ?",
            (attempt_id, stream),
        )
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    async def save_log_offset(
        self, attempt_id: int, stream: str, path: str, offset: int, identity: str | None, now: float
    ) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO log_offsets (attempt_id, stream, path, offset, identity, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(attempt_id, stream) DO UPDATE SET path = excluded.path, "
                "offset = excluded.offset, identity = excluded.identity, updated_at = excluded.updated_at",
                (attempt_id, stream, path, offset, identity, now),
            )

    # -- log copies (the last lines of a Kubernetes pod's log, for when the pod is gone) -------

    async def log_copies_due(
        self, session: str, clusters: Sequence[str], limit: int
    ) -> list[tuple[int, str, str]]:
        """(attempt row id, cluster, log path) of the session's finished attempts on `clusters` whose
        log has no copy yet, oldest first, at most `limit`."""
        if not clusters:
            return []
        active = [s.value for s in (State.PENDING, State.SUBMITTING, State.QUEUED, State.RUNNING)]
        rows = await self._rows(
            "SELECT a.id, j.cluster, a.log_path FROM attempts a JOIN jobs j ON j.id = a.job_id "
            "JOIN sessions s ON s.id = j.session_id WHERE s.name = ? AND a.log_path IS NOT NULL "
            f"AND j.cluster IN ({','.join('?' * len(clusters))}) AND a.state NOT IN ({','.join('?' * len(active))}) "
            "AND NOT EXISTS (SELECT 1 FROM log_copies c WHERE c.attempt_id = a.id) ORDER BY a.id LIMIT ?",
            [session, *clusters, *active, limit],
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def save_log_copy(self, attempt_id: int, stream: str, data: bytes | None, now: float) -> None:
        """Keep `data` as the copy of an attempt's log; None records that there was nothing left to copy."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO log_copies (attempt_id, stream, data, saved_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(attempt_id, stream) DO UPDATE SET data = excluded.data, saved_at = excluded.saved_at",
                (attempt_id, stream, data, now),
            )

    async def log_copy(self, attempt_id: int, stream: str) -> tuple[bytes, float] | None:
        """The kept copy of an attempt's log and when it was saved; None when there is none."""
        rows = await self._rows(
            "SELECT data, saved_at FROM log_copies WHERE attempt_id = ? AND stream = ? AND data IS NOT NULL",
            (attempt_id, stream),
        )
        return (bytes(rows[0][0]), rows[0][1]) if rows else None


def _job_from_row(r: Any, spec: JobSpec, attempts: Iterable[Attempt]) -> Job:
    return Job(
        id=r[0],
        session=r[1],
        name=r[2],
        task=r[3],
        cluster=r[4],
        state=STATES[r[5]],
        reason=r[6],
        exit_code=r[7],
        spec=spec,
        attempts=tuple(attempts),
        missing_since=r[9],
        outputs_verified=r[10],
        outputs_expected=r[11],
        updated_at=r[12],
    )


async def _refuse_changed(conn: Any, jobs: Sequence[Job]) -> None:
    """Inside the write transaction (BEGIN IMMEDIATE: nobody else writes until it ends): every job is
    still in the state the caller read, so two processes that both read a job FAILED never both submit it."""
    read = {j.id: j for j in jobs}
    ids = list(read)
    for start in range(0, len(ids), 900):  # SQLite's limit of variables per statement
        chunk = ids[start : start + 900]
        async with conn.execute(
            f"SELECT id, state FROM jobs WHERE id IN ({', '.join('?' * len(chunk))})", chunk
        ) as cursor:
            for job_id, state in await cursor.fetchall():
                job = read[job_id]
                if state != job.state.value:
                    raise ChangedMeanwhile(
                        f"{job.key}: changed by another jobdeck process since it was read ({job.state} -> "
                        f"{state}); nothing was submitted; look again and retry"
                    )


def _rounds(updates: Sequence[JobUpdate]) -> list[list[JobUpdate]]:
    """The updates in rounds in which each job appears at most once; a job's nth update is in round n."""
    rounds: list[list[JobUpdate]] = []
    seen: dict[int, int] = defaultdict(int)
    for u in updates:
        n = seen[u.job_db_id]
        seen[u.job_db_id] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(u)
    return rounds


async def _apply_round(conn: Any, updates: Sequence[JobUpdate], now: float) -> None:
    """Updates of distinct jobs, applied in the order one update's parts need: a found attempt,
    the job, its current attempt, its outputs, its log offsets (by attempt number)."""
    found = [(u.job_db_id, u.new_attempt) for u in updates if u.new_attempt is not None]
    if found:
        await conn.executemany(
            "INSERT INTO attempts (job_id, number, submission_id, kind, scheduler_id, state, raw_state, reason, "
            "exit_code, submit_time, start_time, end_time, log_path, err_path, requeues) "
            "SELECT ?, IFNULL(max(number), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM attempts WHERE job_id = ?",
            [(job_db_id, a.submission_id, a.kind, a.job_id, a.state.value, a.raw_state, a.reason, a.exit_code,
              a.submit_time, a.start_time, a.end_time, a.log_path, a.err_path, a.requeues, job_db_id)
             for job_db_id, a in found],
        )  # fmt: skip
    cursor = await conn.executemany(
        "UPDATE jobs SET state = ?, reason = ?, exit_code = ?, updated_at = ?, "
        "missing_since = CASE WHEN ? THEN NULL ELSE IFNULL(?, missing_since) END WHERE id = ?",
        [(u.state.value, u.reason, u.exit_code, now, u.clear_missing, None if u.clear_missing else u.missing_since,
          u.job_db_id) for u in updates],
    )  # fmt: skip
    if cursor.rowcount != len(updates):  # the whole poll is refused, as one transaction
        raise KeyError(f"{len(updates) - cursor.rowcount} of the jobs updated are not in the store")
    patches: dict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
    for u in updates:
        changes = u.attempt.changes() if u.attempt is not None else {}
        if changes:
            values = (v.value if isinstance(v, State) else v for v in changes.values())
            patches[tuple(changes)].append((*values, u.job_db_id, u.job_db_id))
    for names, rows in patches.items():
        await conn.executemany(
            f"UPDATE attempts SET {', '.join(f'{name} = ?' for name in names)} "
            "WHERE job_id = ? AND number = (SELECT max(number) FROM attempts WHERE job_id = ?)",
            rows,
        )
    checked = [u for u in updates if u.outputs is not None]
    if checked:
        await _replace_outputs(conn, checked, now)
    offsets = [
        (o.stream, o.path, o.offset, o.identity, now, u.job_db_id, o.attempt)
        for u in updates
        for o in u.log_offsets
    ]
    if offsets:
        await conn.executemany(
            "INSERT INTO log_offsets (attempt_id, stream, path, offset, identity, updated_at) "
            "SELECT id, ?, ?, ?, ?, ? FROM attempts WHERE job_id = ? AND number = ? "
            "ON CONFLICT(attempt_id, stream) DO UPDATE SET path = excluded.path, offset = excluded.offset, "
            "identity = excluded.identity, updated_at = excluded.updated_at",
            offsets,
        )


async def _replace_outputs(conn: Any, updates: Sequence[JobUpdate], now: float) -> None:
    await conn.executemany("DELETE FROM outputs WHERE job_id = ?", [(u.job_db_id,) for u in updates])
    await conn.executemany(
        "INSERT INTO outputs (job_id, path, present, problem, size, checked_at) VALUES (?, ?, ?, ?, ?, ?)",
        [(u.job_db_id, o.path, o.present, o.problem, o.size, now) for u in updates for o in u.outputs or ()],
    )
    await conn.executemany(
        "UPDATE jobs SET outputs_verified = ?, outputs_expected = ? WHERE id = ?",
        [(sum(1 for o in u.outputs or () if o.present), len(u.outputs or ()), u.job_db_id) for u in updates],
    )


async def _insert_events(conn: Any, session_id: int, events: Sequence[tuple[int | None, Event]]) -> None:
    await conn.executemany(
        "INSERT INTO events (session_id, job_id, attempt, at, kind, from_state, to_state, message) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (session_id, job_id, e.attempt, e.at, e.kind, e.from_state.value if e.from_state else None,
             e.to_state.value if e.to_state else None, e.message)
            for job_id, e in events
        ],
    )  # fmt: skip
