"""Validate on demand: check the outputs of chosen jobs now and say what they became."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.controller import Controller
from monitor.model import Job, JobUpdate, OutputStatus
from monitor.output_check import Progress, check_outputs
from monitor.states import State
from monitor.validation import scheduler_completed

SHOWN_MISSING = 5


@dataclass(frozen=True, slots=True)
class ValidationResult:
    job: Job
    before: State
    after: State
    verified: int
    expected: int
    missing: tuple[str, ...] = field(default=())
    note: str = ""

    @property
    def missing_text(self) -> list[str]:
        """The first missing paths, then "... and N more"."""
        shown = list(self.missing[:SHOWN_MISSING])
        if len(self.missing) > SHOWN_MISSING:
            shown.append(f"... and {len(self.missing) - SHOWN_MISSING} more")
        return shown


def _eligible(job: Job, force: bool) -> str | None:
    """Why a job is not validated now, or None when it is."""
    if job.state is State.VALIDATING:
        return None
    if job.state in (State.SUCCEEDED, State.PARTIAL, State.FAILED) and force:
        return (
            None
            if scheduler_completed(job) or job.state is not State.FAILED
            else (
                f"the scheduler said {job.current.raw_state if job.current else 'it failed'}; restart is for that"
            )
        )
    if job.state in (State.SUCCEEDED, State.PARTIAL, State.FAILED):
        return f"already validated ({job.state}); --force re-checks"
    return f"{job.state}: validated once the scheduler says it completed"


def _missing_text(output: OutputStatus) -> str:
    return output.path + (f" ({output.problem})" if output.problem and output.problem != "missing" else "")


async def validate_jobs(
    controller: Controller, jobs: Sequence[Job], force: bool = False, progress: Progress | None = None
) -> list[ValidationResult]:
    """Validate now, in one transaction. Raises BackendUnavailable (nothing changed) when the
    outputs cannot be looked at."""
    results: dict[int | None, ValidationResult] = {}
    chosen: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        why = _eligible(job, force)
        if why is None:
            chosen[job.cluster].append(job)
        else:
            last = await controller.store.outputs(job.id) if job.id is not None else []
            missing = tuple(_missing_text(o) for o in last if not o.present)
            verified = sum(1 for o in last if o.present)
            expected = len(last) or len(job.spec.outputs)
            results[job.id] = ValidationResult(
                job, job.state, job.state, verified, expected, missing, note=why
            )
    updates = []
    for cluster, group in chosen.items():
        settings = controller.validation_settings()
        found = await check_outputs(
            controller.backend(cluster), group, settings, controller.clock(), True, progress
        )
        updates.extend(found)
        by_id: dict[int | None, JobUpdate] = {u.job_db_id: u for u in found}
        for job in group:
            update = by_id.get(job.id)
            outputs = update.outputs if update and update.outputs is not None else ()
            after = update.state if update else job.state
            missing = tuple(_missing_text(o) for o in outputs if not o.present)
            verified = sum(1 for o in outputs if o.present)
            results[job.id] = ValidationResult(job, job.state, after, verified, len(outputs), missing)
    await controller.store.apply_updates(updates, controller.clock())
    return [results[j.id] for j in jobs]
