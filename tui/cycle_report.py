"""A supervisor cycle's outcome in words, the same for the app (notifications, status bar) and
`attach --no-tui` (one line each)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from monitor.supervisor import CycleOutcome


@dataclass(frozen=True, slots=True)
class CycleReport:
    lease: str | None  # another monitor holds the session: nothing was polled or done from here
    took_over: str | None  # this monitor took the lease of one whose process is gone
    warnings: tuple[str, ...]  # checks of the cycle that could not run
    poll_warnings: tuple[str, ...]  # clusters and checks of the poll that could not run
    restarts: tuple[str, ...]  # what the restart policies and chains submitted
    unreachable: dict[str, str]  # cluster -> why it did not answer this poll
    job_warnings: tuple[tuple[str, str], ...]  # (job, what is wrong with it), not acted upon


def cycle_report(outcome: CycleOutcome) -> CycleReport:
    if not outcome.acting:
        since = time.strftime("%H:%M:%S", time.localtime(outcome.lease.acquired_at))
        lease = f"read-only: monitored by {outcome.lease.holder} since {since}"
        return CycleReport(lease, None, (), (), (), {}, ())
    took_over = (
        f"{outcome.took_over_from} is gone; monitored from here now" if outcome.took_over_from else None
    )
    poll = outcome.poll
    return CycleReport(
        None,
        took_over,
        tuple(outcome.warnings),
        tuple(poll.warnings) if poll else (),
        tuple(outcome.restarts),
        {c: h.error or "no answer" for c, h in poll.health.items() if not h.ok} if poll else {},
        tuple((str(w.job.key), w.message) for w in poll.job_warnings) if poll else (),
    )
