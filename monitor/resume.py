"""Resume: resubmit exactly the tasks of a PARTIAL job whose outputs are missing,
each with its own stored arguments, linked to the submission it completes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.aggregate import aggregate_state
from monitor.controller import Controller, SubmitOutcome
from monitor.model import Job
from monitor.states import State


@dataclass(frozen=True, slots=True)
class ResumePlan:
    session: str
    name: str
    whole: State
    tasks: tuple[Job, ...]  # what would be resubmitted
    refusal: str | None = None

    @property
    def label(self) -> str:
        return f"{self.session}/{self.name}"


def plan_resume(jobs: Sequence[Job], siblings: Sequence[Job] = ()) -> list[ResumePlan]:
    """One plan per logical job among `jobs`. Only a PARTIAL job can be resumed: FAILED means the
    infrastructure failed (restart is for that), and a job still active has nothing missing yet.
    The state is judged over the whole job (every task in `siblings` too), so one chosen task
    of a PARTIAL array is resumed alone."""
    groups: dict[tuple[str, str], list[Job]] = defaultdict(list)
    for job in jobs:
        groups[(job.session, job.name)].append(job)
    whole_of: dict[tuple[str, str], dict[int | None, Job]] = defaultdict(dict)
    for job in [*siblings, *jobs]:
        whole_of[(job.session, job.name)][job.task] = job
    plans = []
    for (session, name), group in groups.items():
        whole = aggregate_state(j.state for j in whole_of[(session, name)].values())
        if whole is not State.PARTIAL:
            why = {
                State.FAILED: "FAILED means the job itself failed; `restart` is for that",
                State.SUCCEEDED: "every output is there; nothing to resume",
            }.get(whole, "only a PARTIAL job can be resumed")
            plans.append(ResumePlan(session, name, whole, (), f"{session}/{name} is {whole}: {why}"))
            continue
        missing = tuple(j for j in group if j.state is not State.SUCCEEDED)
        plans.append(ResumePlan(session, name, whole, missing))
    return plans


async def resume(
    controller: Controller, jobs: Sequence[Job], dry_run: bool = False, siblings: Sequence[Job] = ()
) -> list[tuple[ResumePlan, SubmitOutcome | None]]:
    """Plans and, unless refused or a dry run, their submissions (kind "resume")."""
    results: list[tuple[ResumePlan, SubmitOutcome | None]] = []
    for plan in plan_resume(jobs, siblings):
        if plan.refusal:
            results.append((plan, None))
            continue
        (outcome,) = await controller.submit(plan.tasks, kind="resume", dry_run=dry_run)
        results.append((plan, outcome))
    return results
