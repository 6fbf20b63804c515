"""Log sizes of running jobs, for the stalled-log warning: the attempt remembers the size and when it
last changed. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from monitor.model import AttemptPatch, Job, JobUpdate, PathStat


def log_growth_updates(
    running: Sequence[Job], stats: Mapping[str, PathStat | None], now: float
) -> list[JobUpdate]:
    updates = []
    for job in running:
        attempt = job.current
        if attempt is None or attempt.log_path is None or job.id is None:
            continue
        stat = stats.get(attempt.log_path)
        size = stat.size if stat is not None else None
        if size == attempt.log_size:
            continue
        grew = now if size is not None and size > (attempt.log_size or 0) else attempt.log_grew_at
        patch = AttemptPatch(log_size=size, log_grew_at=grew)
        updates.append(JobUpdate(job.id, job.state, job.reason, job.exit_code, attempt=patch))
    return updates
