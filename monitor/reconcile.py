"""Reconciliation: what one poll's answer means for each tracked job. Pure: no I/O, no clock.

Absence is not evidence (docs/ARCHITECTURE.md): a job no source knows keeps its state and is only
marked missing; it becomes LOST after `lost_grace` seconds, and only when a source for finished
jobs answered in that poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.log_patterns import is_resolved, resolve_pattern
from monitor.model import KEEP, AttemptPatch, Event, Job, JobUpdate, Observation, PollReport
from monitor.state_map import Mapped, Mapper
from monitor.states import State


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    lost_grace: float = 600.0


POLLED = frozenset({State.QUEUED, State.RUNNING})


def polled_jobs(jobs: Sequence[Job]) -> list[Job]:
    """The jobs a poll asks the scheduler about: queued or running, with a scheduler ID (read from
    the attempts directly: this runs over every watched job at every poll)."""
    return [j for j in jobs if j.state in POLLED and j.attempts and j.attempts[-1].job_id]


def reconcile(
    jobs: Sequence[Job],
    report: PollReport,
    now: float,
    mapper: Mapper,
    settings: ReconcileSettings = ReconcileSettings(),
) -> list[JobUpdate]:
    """One JobUpdate for every job whose stored view differs from what the scheduler said."""
    updates = []
    mapped: dict[tuple[str, str | None], Mapped] = {}  # the mapper is pure: once per (word, reason)
    for job in polled_jobs(jobs):
        observation = report.observations.get(job.job_id or "")
        if observation is None:
            update = _absent(job, report, now, settings)
        else:
            key = (observation.raw_state, observation.reason)
            if key not in mapped:
                mapped[key] = mapper(*key)
            update = _observed(job, observation, now, mapped[key])
        if update is not None:
            updates.append(update)
    return updates


def _observed(job: Job, obs: Observation, now: float, mapped: Mapped) -> JobUpdate | None:
    attempt = job.current
    assert attempt is not None
    state = mapped.state or job.state
    reason = mapped.reason
    exit_code = obs.exit_code if state not in (State.QUEUED, State.RUNNING) else None
    log_path = attempt.log_path
    if log_path and not is_resolved(log_path) and obs.raw_id:
        log_path = resolve_pattern(log_path, job_id=obs.raw_id, name=job.name)
    if obs.log_path:
        log_path = obs.log_path
    requeues = max(obs.requeues, attempt.requeues)  # squeue knows no count: its 0 is not news
    if job.state is State.RUNNING and state is State.QUEUED and requeues == attempt.requeues:
        requeues += 1  # back in the queue under the same ID: a requeue, even where no count is shown
    if (
        state == job.state
        and reason == job.reason
        and exit_code == job.exit_code
        and job.missing_since is None
        and attempt.raw_state == obs.raw_state
        and attempt.state == state
        and attempt.reason == reason
        and attempt.exit_code == exit_code
        and obs.submit_time in (None, attempt.submit_time)
        and obs.start_time in (None, attempt.start_time)
        and obs.end_time in (None, attempt.end_time)
        and attempt.requeues == requeues
        and attempt.log_path == log_path
    ):
        return None  # everything the patch below would write is already stored
    patch = AttemptPatch(
        raw_state=obs.raw_state,
        state=state,
        reason=reason,
        exit_code=exit_code,
        submit_time=obs.submit_time if obs.submit_time is not None else KEEP,
        start_time=obs.start_time if obs.start_time is not None else KEEP,
        end_time=obs.end_time if obs.end_time is not None else KEEP,
        requeues=requeues,
        log_path=log_path,
    )
    events = []
    if requeues > attempt.requeues:
        events.append(
            Event(now, "requeue", f"requeued by the scheduler (restart {requeues}, same ID {obs.job_id})",
                  job.state, state, job.key, attempt.number)
        )  # fmt: skip
    if state != job.state:
        events.append(Event(now, "state", _describe(job.state, state, reason, exit_code, obs), job.state, state,
                            job.key, attempt.number))  # fmt: skip
    return JobUpdate(
        job_db_id=_db_id(job),
        state=state,
        reason=reason,
        exit_code=exit_code,
        attempt=patch,
        clear_missing=job.missing_since is not None,
        events=tuple(events),
    )


def _absent(job: Job, report: PollReport, now: float, settings: ReconcileSettings) -> JobUpdate | None:
    if job.missing_since is None:
        return JobUpdate(_db_id(job), job.state, job.reason, job.exit_code, missing_since=now)
    waited = now - job.missing_since
    if not report.finished_source or waited < settings.lost_grace:
        return None
    sources = ", ".join(sorted({c.split()[0] for c in report.commands})) or "the scheduler"
    reason = f"no record in {sources} for {int(waited)} s"
    attempt = job.current.number if job.current else None
    event = Event(now, "lost", f"{job.state} -> LOST: {reason}; not restarted automatically", job.state,
                  State.LOST, job.key, attempt)  # fmt: skip
    return JobUpdate(
        _db_id(job),
        State.LOST,
        reason,
        None,
        attempt=AttemptPatch(state=State.LOST, reason=reason),
        events=(event,),
    )


def _describe(old: State, new: State, reason: str | None, exit_code: int | None, obs: Observation) -> str:
    text = f"{old} -> {new}"
    if reason:
        text += f" ({reason})"
    if exit_code is not None and new not in (State.QUEUED, State.RUNNING):
        text += f", exit code {exit_code}"
    if obs.signal:
        text += f", signal {obs.signal}"
    return f"{text} [{obs.source or 'scheduler'} {obs.job_id}]"


def _db_id(job: Job) -> int:
    if job.id is None:
        raise ValueError(f"job {job.key} has no store id")
    return job.id
