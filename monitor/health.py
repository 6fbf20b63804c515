"""The health check run with every poll: things that are not failures yet but deserve a look.
The warnings go with the poll's outcome (PollOutcome.job_warnings); they are never acted upon."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from itertools import compress

from monitor.model import Job
from monitor.same_jobs import PerJob
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


def _due(job: Job, settings: HealthSettings) -> float:
    """The earliest time health_warnings may warn about `job` as it is (a second early, against
    rounding); inf when never."""
    attempt = job.current
    if attempt is None:
        return math.inf
    if job.state in (State.QUEUED, State.RUNNING) and job.missing_since is not None:
        return -math.inf
    if job.state is State.QUEUED and attempt.submit_time is not None:
        return attempt.submit_time + settings.stuck_queued - 1.0
    grew = attempt.log_grew_at if attempt.log_grew_at is not None else attempt.start_time
    if job.state is State.RUNNING and grew is not None:
        return grew + settings.stalled_log - 1.0
    return math.inf


class HealthCheck:
    """health_warnings at every poll, run only over the jobs a warning may be due for: each job's
    due time is kept while the job is the same object (monitor.same_jobs), so 10,000 jobs with
    nothing to say cost a few passes in C."""

    def __init__(self) -> None:
        self._settings: HealthSettings | None = None
        self._due: PerJob[float] | None = None

    def warnings(self, jobs: list[Job], now: float, settings: HealthSettings) -> list[HealthWarning]:
        if self._due is None or settings != self._settings:
            self._settings, self._due = settings, PerJob(partial(_due, settings=settings))
        self._due.update(jobs)
        due = self._due.values
        if not due or min(due) > now:
            return []
        # the jobs whose next warning is due by now, chosen without a Python loop over all of them
        return health_warnings(list(compress(jobs, map(now.__ge__, due))), now, settings)
