"""Decoded jobs kept between reads, so each poll and each redraw of a 10,000-job session decodes
only the jobs that changed since the last read.

A session's jobs are kept whole. All of them are dropped when another connection commits (SQLite's
PRAGMA data_version changes); a job this connection writes is marked stale and read again at the
next read, unless the write said how it reads now (a poll's updates: see store.written). A read
that overlapped a write keeps the written jobs stale, so nothing uncommitted or rolled back outlives
the write.
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.model import Job
from monitor.states import State


class JobCache:
    def __init__(self) -> None:
        self.version: object = None  # the data_version the cached jobs were read at
        self.sessions: dict[str, dict[int, Job]] = {}  # by session name, then job id, in id order
        self.stale: set[int] = set()  # ids written by this connection since they were read
        self.written: dict[int, Job] = {}  # stale jobs whose new reading a committed write gave
        self.writes = 0  # counts touch() calls: a read that saw it change keeps its jobs stale
        self.refreshes = 0  # counts refresh() calls, which change a session's jobs in place
        # a session's jobs in some states, with the jobs and refresh count they were chosen from
        self.chosen: dict[tuple[str, frozenset[State]], tuple[dict[int, Job], int, list[Job]]] = {}

    def check(self, version: object) -> None:
        """Forget everything when another connection has committed since the last read."""
        if version != self.version:
            self.sessions.clear()
            self.stale.clear()
            self.written.clear()
            self.chosen.clear()
            self.version = version

    def touch(self, job_ids: Iterable[int | None]) -> None:
        """Jobs this connection wrote (or was writing, whether it committed or not)."""
        touched = [i for i in job_ids if i is not None]
        self.stale.update(touched)
        for job_id in touched:
            self.written.pop(job_id, None)
        self.writes += 1

    def current(self, job_ids: Iterable[int]) -> dict[int, Job]:
        """The jobs known to read as they are stored, of those asked (not stale, or written)."""
        found = {}
        for job_id in job_ids:
            if job_id in self.written:
                found[job_id] = self.written[job_id]
            elif job_id not in self.stale:
                job = next((s[job_id] for s in self.sessions.values() if job_id in s), None)
                if job is not None:
                    found[job_id] = job
        return found

    def wrote(self, jobs: Iterable[Job]) -> None:
        """Jobs a committed write (after its touch) gave as they now read: the next read takes them."""
        self.written.update((job.id, job) for job in jobs if job.id is not None)

    def forget(self) -> None:
        """Jobs were added: every session is read afresh."""
        self.sessions.clear()
        self.written.clear()
        self.chosen.clear()
        self.writes += 1

    def keep(self, session: str, jobs: Iterable[Job], writes: int) -> dict[int, Job]:
        """Store a session's jobs read when `writes` was the write count; returns them by id."""
        by_id = {job.id: job for job in jobs if job.id is not None}
        self.sessions[session] = by_id
        if writes == self.writes:
            self.stale.difference_update(by_id)
            for job_id in by_id:
                self.written.pop(job_id, None)
        return by_id

    def refresh(self, by_id: dict[int, Job], jobs: Iterable[Job], asked: Iterable[int], writes: int) -> None:
        """Replace stale jobs with their new reading (a job gone from the store is dropped)."""
        self.refreshes += 1
        fresh = {job.id: job for job in jobs}
        for job_id in asked:
            if job_id in fresh:
                by_id[job_id] = fresh[job_id]
            else:
                by_id.pop(job_id, None)
            if writes == self.writes:
                self.stale.discard(job_id)
                self.written.pop(job_id, None)

    def in_states(self, session: str, by_id: dict[int, Job], states: frozenset[State]) -> list[Job]:
        """The session's jobs (`by_id`) in `states`, in order; chosen again only once they changed,
        so a poll of 10,000 unchanged jobs does not look at each (do not change the list)."""
        kept = self.chosen.get((session, states))
        if kept is None or kept[0] is not by_id or kept[1] != self.refreshes:
            kept = (by_id, self.refreshes, [job for job in by_id.values() if job.state in states])
            self.chosen[session, states] = kept
        return kept[2]
