"""Re-attaching: what the scheduler's answer to a search by tag and name means for the session.
Pure: the controller runs the search and writes the outcome.

- An intent (a submission written before it was sent) whose tag the scheduler knows was submitted:
  it is confirmed with the IDs found. One the scheduler does not know, once older than the grace
  and with accounting answering, never arrived: its jobs are offered again. Nothing is submitted
  here, so nothing is ever submitted twice.
- A job that ended CANCELLED, FAILED or LOST, or that no source knows any more, whose name now
  belongs to a newer job nobody tracks was resubmitted outside jobdeck: the newer job becomes its
  next attempt ("found by name"), never a timeout.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from monitor.model import (
    TAG_PREFIX,
    Attempt,
    AttemptPatch,
    Event,
    Job,
    JobUpdate,
    Observation,
    PollReport,
    Submission,
    SubmitResult,
)
from monitor.state_map import Mapper
from monitor.states import State

SEARCHED_STATES = frozenset({State.CANCELLED, State.FAILED, State.LOST})


@dataclass(frozen=True, slots=True)
class IntentVerdict:
    submission: Submission
    result: SubmitResult | None  # found: confirm with this; None: never arrived


def task_of(job_id: str) -> int | None:
    """The array index in "123_4"; None for a plain "123"."""
    _, sep, task = job_id.partition("_")
    return int(task) if sep and task.isdigit() else None


def settle_intents(
    intents: Sequence[Submission], report: PollReport, now: float, grace: float
) -> list[IntentVerdict]:
    """A verdict for each intent that can be settled now; the others stay open."""
    by_tag: dict[str, list[Observation]] = defaultdict(list)
    for obs in report.observations.values():
        if obs.tag:
            by_tag[obs.tag].append(obs)
    verdicts = []
    for intent in intents:
        found = by_tag.get(intent.tag, [])
        if found:
            base = found[0].job_id.split("_", 1)[0]
            task_ids = {t: (base if t is None else f"{base}_{t}") for t in intent.tasks}
            verdicts.append(
                IntentVerdict(intent, SubmitResult(base, task_ids, f"(found by tag {intent.tag})"))
            )
        elif report.finished_source and now - intent.created_at >= grace:
            verdicts.append(IntentVerdict(intent, None))
    return verdicts


def searched_jobs(jobs: Sequence[Job]) -> list[Job]:
    """Jobs that may have been resubmitted outside jobdeck."""
    return [j for j in jobs if j.attempts and (j.state in SEARCHED_STATES or j.missing_since is not None)]


def found_by_name(
    jobs: Sequence[Job],
    report: PollReport,
    known_ids: Collection[str],
    now: float,
    mapper: Mapper,
) -> list[JobUpdate]:
    """New attempts for searched jobs whose name (and task) a newer, untracked job carries. A job
    carrying a jobdeck tag is never one: its own submission knows it (this store's tags), or it
    belongs to another jobdeck database that runs jobs of the same name on the same cluster."""
    candidates: dict[tuple[str, int | None], list[Observation]] = defaultdict(list)
    for obs in report.observations.values():
        by_jobdeck = obs.tag is not None and obs.tag.startswith(TAG_PREFIX)
        if obs.job_id not in known_ids and not by_jobdeck and obs.name is not None:
            candidates[(obs.name, task_of(obs.job_id))].append(obs)
    updates = []
    for job in searched_jobs(jobs):
        current = job.current
        assert current is not None and job.id is not None
        after = current.submit_time or 0.0
        newer = [o for o in candidates.get((job.name, job.task), []) if (o.submit_time or 0.0) > after]
        if not newer:
            continue
        obs = max(newer, key=lambda o: (o.submit_time or 0.0, o.job_id))
        mapped = mapper(obs.raw_state, obs.reason)
        state = mapped.state or State.QUEUED
        exit_code = obs.exit_code if state not in (State.QUEUED, State.RUNNING) else None
        attempt = Attempt(
            number=current.number + 1,
            job_id=obs.job_id,
            state=state,
            kind="found",
            raw_state=obs.raw_state,
            reason=mapped.reason,
            exit_code=exit_code,
            submit_time=obs.submit_time,
            start_time=obs.start_time,
            end_time=obs.end_time,
            log_path=obs.log_path,
            requeues=obs.requeues,
        )
        message = (
            f"{job.state} -> {state}: resubmitted outside jobdeck as {obs.job_id} (found by name "
            f"{job.name!r}); recorded as attempt {attempt.number}"
        )
        event = Event(now, "found", message, job.state, state, job.key, attempt.number)
        updates.append(
            JobUpdate(
                job.id,
                state,
                mapped.reason,
                exit_code,
                attempt=AttemptPatch(),
                clear_missing=True,
                new_attempt=attempt,
                events=(event,),
            )
        )
    return updates
