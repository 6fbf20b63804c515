"""Decoded jobs kept between reads, so each poll and each redraw of a 10,000-job session decodes
only the jobs that changed since the last read.

A session's jobs are kept whole. All of them are dropped when another connection commits (SQLite's
PRAGMA data_version changes); a job this connection writes is marked stale and read again at the
next read. A read that overlapped a write keeps the written jobs stale, so nothing uncommitted or
rolled back outlives the write.
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.model import Job


class JobCache:
    def __init__(self) -> None:
        self.version: object = None  # the data_version the cached jobs were read at
        self.sessions: dict[str, dict[int, Job]] = {}  # by session name, then job id, in id order
        self.stale: set[int] = set()  # ids written by this connection since they were read
        self.writes = 0  # counts touch() calls: a read that saw it change keeps its jobs stale

    def check(self, version: object) -> None:
        """Forget everything when another connection has committed since the last read."""
        if version != self.version:
            self.sessions.clear()
            self.stale.clear()
            self.version = version

    def touch(self, job_ids: Iterable[int | None]) -> None:
        """Jobs this connection wrote (or was writing, whether it committed or not)."""
        self.stale.update(i for i in job_ids if i is not None)
        self.writes += 1

    def forget(self) -> None:
        """Jobs were added: every session is read afresh."""
        self.sessions.clear()
        self.writes += 1

    def keep(self, session: str, jobs: Iterable[Job], writes: int) -> dict[int, Job]:
        """Store a session's jobs read when `writes` was the write count; returns them by id."""
        by_id = {job.id: job for job in jobs if job.id is not None}
        self.sessions[session] = by_id
        if writes == self.writes:
            self.stale.difference_update(by_id)
        return by_id

    def refresh(self, by_id: dict[int, Job], jobs: Iterable[Job], asked: Iterable[int], writes: int) -> None:
        """Replace stale jobs with their new reading (a job gone from the store is dropped)."""
        fresh = {job.id: job for job in jobs}
        for job_id in asked:
            if job_id in fresh:
                by_id[job_id] = fresh[job_id]
            else:
                by_id.pop(job_id, None)
            if writes == self.writes:
                self.stale.discard(job_id)
