"""Outputs decide success (docs/ARCHITECTURE.md). Pure: the controller fetches file stats in one batch.

The scheduler's COMPLETED only opens VALIDATING; all expected outputs present gives SUCCEEDED, some
gives PARTIAL, none gives FAILED. Within the grace period after the job ended, missing files may
still be on their way through a shared filesystem, so the job stays VALIDATING.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.model import AttemptPatch, Event, Job, JobUpdate, OutputCheck, OutputStatus, PathStat
from monitor.state_map import DELETED, ran_to_completion
from monitor.states import State
from monitor.templates import expand


@dataclass(frozen=True, slots=True)
class ValidationSettings:
    grace: float = 30.0
    enabled: bool = True


def plan_checks(job: Job) -> list[OutputCheck]:
    """The job's expected outputs for its current attempt ({attempt} filled in)."""
    number = job.current.number if job.current else 1
    return [
        OutputCheck(expand(c.path, attempt=number), c.non_empty, c.min_size, c.sha256)
        for c in job.spec.outputs
    ]


def check_output(check: OutputCheck, stat: PathStat | None) -> OutputStatus:
    if stat is None:
        return OutputStatus(check.path, False, "missing")
    problem = None
    if check.non_empty and stat.size == 0:
        problem = "empty"
    elif check.min_size is not None and stat.size < check.min_size:
        problem = f"smaller than {check.min_size} bytes"
    elif check.sha256 and stat.sha256 and stat.sha256.lower() != check.sha256.lower():
        problem = "checksum differs"
    return OutputStatus(check.path, problem is None, problem, stat.size)


def scheduler_completed(job: Job) -> bool:
    """True when the current attempt's scheduler word says the job ran to completion."""
    attempt = job.current
    return attempt is not None and ran_to_completion(attempt.raw_state)


DELETED_UNJUDGED = "deleted from the API server while nobody watched; no outputs to judge"


def _deleted_unjudged(job: Job, plan: Sequence[OutputCheck], settings: ValidationSettings) -> bool:
    """A Kubernetes Job that vanished before anyone saw it end, with no outputs to look at: nothing
    says it succeeded, so it must not become SUCCEEDED."""
    attempt = job.current
    deleted = attempt is not None and attempt.raw_state == DELETED
    return deleted and (not plan or not settings.enabled)


def judge(
    job: Job,
    plan: Sequence[OutputCheck],
    stats: Mapping[str, PathStat | None],
    now: float,
    settings: ValidationSettings,
    force: bool = False,
) -> JobUpdate | None:
    """The job's state after its outputs were looked at, or None when nothing changes.
    `force` re-checks a job already settled; a job the scheduler itself failed stays FAILED."""
    if job.state is not State.VALIDATING and not force:
        return None
    if job.id is None:
        raise ValueError(f"job {job.key} has no store id")
    if job.state is State.VALIDATING and _deleted_unjudged(job, plan, settings):
        return _settle(job, State.LOST, DELETED_UNJUDGED, None, now)
    if not settings.enabled:
        return _settle(job, State.SUCCEEDED, "not validated (validation is off)", None, now)
    statuses = tuple(check_output(c, stats.get(c.path)) for c in plan)
    good = sum(1 for s in statuses if s.present)
    total = len(statuses)
    if job.state is not State.VALIDATING and not scheduler_completed(job):
        return JobUpdate(job.id, job.state, job.reason, job.exit_code, outputs=statuses)
    if good == total:
        return _settle(
            job, State.SUCCEEDED, None, statuses, now, f"{good}/{total} outputs verified" if total else ""
        )
    ended = (job.current.end_time if job.current else None) or job.updated_at
    if not force and job.state is State.VALIDATING and now - ended < settings.grace:
        reason = f"waiting for outputs ({good}/{total} present)"
        if reason == job.reason and good == job.outputs_verified:
            return None
        return JobUpdate(job.id, job.state, reason, job.exit_code, outputs=statuses)
    if good == 0:
        return _settle(job, State.FAILED, f"no expected output found (0/{total})", statuses, now)
    return _settle(job, State.PARTIAL, f"{total - good} of {total} outputs missing", statuses, now)


def _settle(
    job: Job,
    state: State,
    reason: str | None,
    statuses: tuple[OutputStatus, ...] | None,
    now: float,
    note: str = "",
) -> JobUpdate | None:
    assert job.id is not None
    if state is job.state and reason == job.reason and statuses is None:
        return None
    text = f"{job.state} -> {state}" + (f" ({reason})" if reason else "") + (f": {note}" if note else "")
    attempt = job.current.number if job.current else None
    events = (
        (Event(now, "validate", text, job.state, state, job.key, attempt),) if state is not job.state else ()
    )
    return JobUpdate(
        job.id,
        state,
        reason,
        job.exit_code,
        attempt=AttemptPatch(state=state, reason=reason),
        outputs=statuses,
        events=events,
    )
