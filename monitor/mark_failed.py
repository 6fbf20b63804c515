"""Mark failed: settle a stuck job by hand, with a reason kept in its history. The scheduler is not
touched; the job is no longer polled and can then be restarted."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.controller import Controller
from monitor.model import AttemptPatch, Event, Job, JobUpdate
from monitor.states import State


async def mark_failed(controller: Controller, jobs: Sequence[Job], reason: str) -> list[str]:
    now = controller.clock()
    text = f"marked failed by hand: {reason}"
    updates, lines = [], []
    for job in jobs:
        if job.state is State.FAILED:
            lines.append(f"{job.key}: already FAILED")
            continue
        if job.id is None:
            raise ValueError(f"job {job.key} has no store id")
        attempt = job.current.number if job.current else None
        event = Event(
            now, "mark-failed", f"{job.state} -> FAILED ({text})", job.state, State.FAILED, job.key, attempt
        )
        patch = AttemptPatch(state=State.FAILED, reason=text) if job.current else None
        updates.append(JobUpdate(job.id, State.FAILED, text, job.exit_code, attempt=patch, events=(event,)))
        lines.append(f"{job.key}: {job.state} -> FAILED ({text})")
    await controller.store.apply_updates(updates, now)
    return lines
