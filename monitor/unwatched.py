"""Work that waits for a monitor. Chain stages are submitted and restart policies applied only in
a monitor's cycle (an attached monitor's or a `jobdeck sync`'s); when none has completed a cycle
for a few poll intervals, the views say how much waits and which command moves it on. Pure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.chains import unheld_stages
from monitor.model import Job
from monitor.policies import due_restarts
from monitor.states import State

STALE_CYCLES = 3  # poll intervals without a completed cycle before the session counts as unwatched


@dataclass(frozen=True, slots=True)
class Unwatched:
    since: float | None  # the last completed cycle; None: no monitor ever completed one
    stages: int  # chain stages not yet submitted (and not held)
    restarts: int  # failed jobs a restart policy will restart

    def summary(self) -> str:
        """ "unwatched since 14:02: 3 stages and 1 restart wait" """
        when = (
            "by any monitor yet"
            if self.since is None
            else time.strftime("since %H:%M", time.localtime(self.since))
        )
        waiting = [_count(self.stages, "stage"), _count(self.restarts, "restart")]
        return f"unwatched {when}: {' and '.join(w for w in waiting if w)} wait"

    def advice(self, session: str) -> str:
        return f"`jobdeck sync` (from cron) or `jobdeck attach {session} --no-tui` moves them on"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}" if n else ""


def waiting_work(jobs: Sequence[Job]) -> tuple[int, int]:
    """Chain stages not yet submitted (and not held), and failed jobs a restart policy will restart."""
    restarts = due_restarts([j for j in jobs if j.state is State.FAILED], math.inf)
    return len(unheld_stages(jobs)), len(restarts)


def unwatched(
    jobs: Sequence[Job], last_cycle: float | None, now: float, poll_interval: float
) -> Unwatched | None:
    """What waits for a monitor, when none has completed a cycle for STALE_CYCLES poll intervals."""
    if last_cycle is not None and now - last_cycle <= STALE_CYCLES * poll_interval:
        return None
    stages, restarts = waiting_work(jobs)
    return Unwatched(last_cycle, stages, restarts) if stages or restarts else None
