"""The health check run with every poll: things that are not failures yet but deserve a look.
Pure; the warnings are shown in the table and in `sync --json`, never acted upon."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.model import Job
from monitor.states import State


@dataclass(frozen=True, slots=True)
class HealthSettings:
    stuck_queued: float = 6 * 3600.0  # seconds queued before a warning
    stalled_log: float = 30 * 60.0  # seconds a running job's log may stay the same size


@dataclass(frozen=True, slots=True)
class HealthWarning:
    job: Job
    kind: str  # missing | stuck | stalled
    message: str


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def health_warnings(jobs: Sequence[Job], now: float, settings: HealthSettings) -> list[HealthWarning]:
    found = []
    for job in jobs:
        attempt = job.current
        if attempt is None:
            continue
        if job.state in (State.QUEUED, State.RUNNING) and job.missing_since is not None:
            found.append(HealthWarning(job, "missing", f"{job.state} here, but the scheduler has not known it for "
                                                   f"{_span(now - job.missing_since)}"))  # fmt: skip
        if (
            job.state is State.QUEUED
            and attempt.submit_time is not None
            and now - attempt.submit_time > settings.stuck_queued
        ):
            found.append(HealthWarning(job, "stuck", f"queued for {_span(now - attempt.submit_time)}"))
        grew = attempt.log_grew_at if attempt.log_grew_at is not None else attempt.start_time
        if job.state is State.RUNNING and grew is not None and now - grew > settings.stalled_log:
            found.append(HealthWarning(job, "stalled", f"log has not grown for {_span(now - grew)}"))
    return found
