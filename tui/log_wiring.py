"""Builds a log screen's source from a job: its attempts' paths, its cluster's reader, and the
store that remembers how far each log was read."""

from __future__ import annotations

import time

from monitor.controller import Controller
from monitor.model import Job
from store.session_store import SessionStore
from tui.screens.log_source import LogAttempt, LogSource


def log_source(job: Job, controller: Controller, store: SessionStore) -> LogSource:
    """The logs of a job's attempts, read through its cluster's backend, offsets kept in the store."""
    ids = {a.number: a.id for a in job.attempts}

    async def save(number: int, stream: str, path: str, offset: int) -> None:
        attempt_id = ids.get(number)
        if attempt_id is not None:
            await store.save_log_offset(attempt_id, stream, path, offset, None, time.time())

    async def load(number: int, stream: str) -> int | None:
        attempt_id = ids.get(number)
        found = await store.log_offset(attempt_id, stream) if attempt_id is not None else None
        return found[1] if found else None

    attempts = [LogAttempt(a.number, a.job_id, a.log_path, a.err_path) for a in job.attempts]
    title = f"{job.key} on {job.cluster}"
    return LogSource(title, attempts, controller.backend(job.cluster).read_bytes, save, load)
