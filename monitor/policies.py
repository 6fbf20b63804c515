"""Restart policies: which failed jobs the controller restarts by itself, and how. Pure.

A job is restarted when its scheduler reason (TIMEOUT, NODE_FAIL, PREEMPTED, OUT_OF_MEMORY, ...) or
"exit:N" is in its policy's `on`, it has had fewer than `max_attempts` attempts, and `backoff`
seconds passed since it ended. LOST and CANCELLED jobs are never restarted automatically, and a
failure that validation found (outputs missing) is left to resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.model import Job
from monitor.states import State


@dataclass(frozen=True, slots=True)
class RestartDue:
    job: Job
    requeue: bool  # try `scontrol requeue` (same ID) first
    why: str


def _words(job: Job) -> set[str]:
    attempt = job.current
    words = {w.upper() for w in (job.reason, attempt.raw_state if attempt else None) if w}
    if job.exit_code is not None:
        words.add(f"EXIT:{job.exit_code}")
    return words


def due_restarts(jobs: Sequence[Job], now: float) -> list[RestartDue]:
    due = []
    for job in jobs:
        policy = job.spec.restart
        attempt = job.current
        if job.state is not State.FAILED or not policy.on or attempt is None:
            continue
        if len(job.attempts) >= policy.max_attempts:
            continue
        matched = sorted(_words(job) & {w.upper() for w in policy.on})
        if not matched:
            continue
        ended = attempt.end_time or job.updated_at
        if now < ended + policy.backoff:
            continue
        why = f"restart policy: {matched[0]} (attempt {len(job.attempts) + 1} of {policy.max_attempts})"
        due.append(RestartDue(job, policy.requeue, why))
    return due
