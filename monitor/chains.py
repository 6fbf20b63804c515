"""Job chains: a stage is submitted only when every stage it comes after is SUCCEEDED after
validation (SLURM's afterok trusts exit codes; this trusts outputs). Pure.

A PARTIAL, FAILED, CANCELLED or LOST upstream holds the stages after it, and says so on them;
resuming or restarting the upstream releases them once it becomes SUCCEEDED.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.aggregate import aggregate_state
from monitor.model import Event, Job, JobUpdate
from monitor.states import TERMINAL, State


@dataclass(frozen=True, slots=True)
class Gate:
    """Whether a PENDING stage may go: `ready`, or the reason it waits (held: an upstream settled
    without succeeding; waiting: an upstream is still on its way)."""

    ready: bool
    reason: str | None = None
    held: bool = False


def _wholes(jobs: Sequence[Job]) -> dict[str, State]:
    """Each logical job's state as a whole (an array counts as one)."""
    states: dict[str, list[State]] = defaultdict(list)
    for job in jobs:
        states[job.name].append(job.state)
    return {name: aggregate_state(found) for name, found in states.items()}


def gate(job: Job, wholes: dict[str, State]) -> Gate:
    after = job.spec.after
    if not after:
        return Gate(True)
    held = [
        f"{name} {wholes[name]}"
        for name in after
        if name in wholes and wholes[name] in TERMINAL - {State.SUCCEEDED}
    ]
    if held:
        return Gate(False, f"held: {', '.join(held)} (resume or restart it to release)", held=True)
    waiting = [name for name in after if wholes.get(name) is not State.SUCCEEDED]
    if waiting:
        return Gate(False, f"waiting for {', '.join(waiting)}")
    return Gate(True)


def ready_stages(jobs: Sequence[Job]) -> list[Job]:
    """PENDING jobs whose every upstream succeeded (jobs without `after` included)."""
    wholes = _wholes(jobs)
    return [j for j in jobs if j.state is State.PENDING and gate(j, wholes).ready]


def unheld_stages(jobs: Sequence[Job]) -> list[Job]:
    """Stages a monitor will submit, now or once their upstream succeeds: PENDING, with an
    upstream, and not held by one that settled without succeeding."""
    wholes = _wholes(jobs)
    return [j for j in jobs if j.state is State.PENDING and j.spec.after and not gate(j, wholes).held]


REFUSED = "submit rejected"  # the reason a job keeps after the scheduler refused its submission


def due_stages(jobs: Sequence[Job]) -> list[Job]:
    """Chain stages the monitor submits by itself now: ready, with an upstream, and not refused
    by the scheduler before (that one waits for the user, or it would be sent at every poll)."""
    return [j for j in ready_stages(jobs) if j.spec.after and j.reason != REFUSED]


def gate_updates(jobs: Sequence[Job], now: float) -> list[JobUpdate]:
    """Say on each waiting stage what it waits for; an event only when it becomes held."""
    wholes = _wholes(jobs)
    updates = []
    for job in jobs:
        if job.state is not State.PENDING or not job.spec.after or job.id is None:
            continue
        verdict = gate(job, wholes)
        if verdict.ready or verdict.reason == job.reason:
            continue
        events = (
            (Event(now, "held", verdict.reason or "", job.state, job.state, job.key),) if verdict.held else ()
        )
        updates.append(JobUpdate(job.id, job.state, verdict.reason, job.exit_code, events=events))
    return updates


def stage_label(job: Job) -> str:
    """ "stage 7/20" for a generated series, "" otherwise."""
    stage = job.spec.stage
    return f"stage {stage[0] + 1}/{stage[1]}" if stage else ""
