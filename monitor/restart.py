"""Restart: a new attempt, with the same explicit arguments, of jobs that ended
FAILED, CANCELLED or LOST. Every earlier attempt stays in the history."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.controller import Controller, SubmitOutcome
from monitor.model import Job
from monitor.states import State

RESTARTABLE = frozenset({State.FAILED, State.CANCELLED, State.LOST})


def split_restartable(jobs: Sequence[Job]) -> tuple[list[Job], list[str]]:
    """The jobs a restart would submit, and one refusal line for each of the others."""
    chosen, refused = [], []
    for job in jobs:
        if job.state in RESTARTABLE:
            chosen.append(job)
        elif job.state is State.PARTIAL:
            refused.append(f"{job.key} is PARTIAL: `resume` submits only what is missing")
        else:
            refused.append(f"{job.key} is {job.state}: only FAILED, CANCELLED or LOST jobs are restarted")
    return chosen, refused


async def restart(
    controller: Controller, jobs: Sequence[Job], dry_run: bool = False
) -> tuple[list[SubmitOutcome], list[str]]:
    chosen, refused = split_restartable(jobs)
    outcomes = await controller.submit(chosen, kind="restart", dry_run=dry_run) if chosen else []
    return outcomes, refused
