"""What one cluster's polls carry from one to the next, so a poll of 10,000 unchanged jobs does no
Python work for each of them: which jobs it asks the scheduler about (see monitor.same_jobs), and
which of them reconciled to nothing at the last poll.

Such a job, handed out again as the same object by the store and observed again as the same object
(the SLURM backend hands out an unchanged squeue line's Observation again; both are immutable),
would reconcile to nothing again: it is not reconciled. A job no source knows is reconciled at
every poll (time decides when it is LOST), and so is one whose update may not have been stored."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import compress, count, repeat
from operator import is_not, itemgetter, or_
from typing import cast

from monitor.model import Job, JobUpdate, Observation
from monitor.reconcile import POLLED
from monitor.same_jobs import PerJob

_ABSENT = object()  # what a job no source knew was observed as
_ID, _SUBMITTED = itemgetter(0), itemgetter(1)


def _asked(job: Job) -> tuple[str, float] | None:
    """The scheduler ID a poll asks about and its submit time (inf when unknown), for a job polled
    (reconcile.polled_jobs); None for the others."""
    if job.state in POLLED and job.attempts:
        attempt = job.attempts[-1]
        if attempt.job_id:
            return attempt.job_id, attempt.submit_time or math.inf
    return None


class PollMemory:
    def __init__(self) -> None:
        self._asked = PerJob(_asked)
        self._jobs: list[Job] = []  # the jobs asked about, in order
        self._ids: list[str] = []  # their scheduler IDs
        self._places: dict[str, int] | None = None  # where each ID is among them, once needed
        self._earliest = math.inf  # their earliest known submit time
        self._undated = False  # whether one's is unknown
        # the last settled poll: its jobs asked about (each with what it was observed as, None
        # where it did not settle), its answer, and which ones did not settle
        self._settled: tuple[list[Job | None], list[object]] = ([], [])
        self._settled_for: list[Job] | None = None
        self._settled_answer: Mapping[str, Observation] | None = None
        self._retry: list[int] = []
        # this poll: its answer, the places of the jobs it reconciles, and the settled state it
        # starts from when it cannot be the last one's
        self._answer: Mapping[str, Observation] = {}
        self._unsettled: list[int] = []
        self._observed: tuple[list[Job | None], list[object]] | None = None

    def ask(self, jobs: list[Job], now: float) -> tuple[list[str], float]:
        """The scheduler IDs to ask about (those of reconcile.polled_jobs, in order) and the earliest
        submit time among them (`now` standing for an unknown one)."""
        if self._asked.update(jobs):
            values = self._asked.values
            # the (ID, submit time) of the jobs a poll asks about, and those jobs: where a value is not None
            asked = cast("list[tuple[str, float]]", list(compress(values, values)))
            self._jobs = list(compress(self._asked.jobs, values))
            ids = list(map(_ID, asked))
            if ids != self._ids:
                self._ids, self._places = ids, None
            times = list(map(_SUBMITTED, asked))
            self._earliest, self._undated = min(times, default=math.inf), math.inf in times
        return self._ids, min(self._earliest, now) if self._undated else self._earliest

    def unsettled(self, answer: Mapping[str, Observation]) -> list[Job]:
        """The jobs asked about that must be reconciled with this answer: all but those that are
        the same objects, observed as the same objects, as when they reconciled to nothing."""
        jobs, (settled_jobs, settled_obs) = self._jobs, self._settled
        self._answer, self._observed = answer, None
        places: Iterable[int] | None = None
        if len(jobs) == len(settled_jobs):
            places = (
                self._retry
                if jobs is self._settled_for
                else compress(count(), map(is_not, jobs, settled_jobs))  # places of jobs that are new objects
            )
            if answer != self._settled_answer:
                observed = self._observed_anew(answer)
                places = None if observed is None else {*places, *observed}
        if places is None:  # find them all by what each is observed as now
            now = list(map(answer.get, self._ids, repeat(_ABSENT)))
            if len(jobs) == len(settled_jobs):
                other = map(or_, map(is_not, jobs, settled_jobs), map(is_not, now, settled_obs))
            else:  # jobs came or left: find the others by identity (`settled_jobs` keeps them alive)
                by_object = dict(zip(map(id, settled_jobs), settled_obs, strict=True))
                other = map(is_not, now, map(by_object.get, map(id, jobs)))
            places = compress(count(), other)  # the places of the others
            self._observed = (list(jobs), now)  # the others are settled with what they are observed as
        self._unsettled = sorted(places)
        return [jobs[i] for i in self._unsettled]

    def _observed_anew(self, answer: Mapping[str, Observation]) -> list[int] | None:
        """Places of the jobs whose observation is another object than in the last settled answer,
        found by comparing the two answers entry by entry, in order (the SLURM backend keeps a
        job's place in its answer): an entry whose ID or observation is another object names the
        jobs of both. None when the answers differ in length, or when entries moved (jobs left
        the queue): most of them then differ."""
        before = self._settled_answer
        if before is None or len(answer) != len(before):
            return None
        other = list(map(or_, map(is_not, answer, before), map(is_not, answer.values(), before.values())))
        if other.count(True) > len(other) // 4:
            return None
        # the IDs of the entries that differ, in both answers
        ids = {*compress(answer, other), *compress(before, other)}
        if self._places is None:
            self._places = dict(zip(self._ids, count()))
        if len(self._places) != len(self._ids):  # two jobs asked about under one ID
            return None
        return [self._places[job_id] for job_id in ids if job_id in self._places]

    def settle(self, updates: Sequence[JobUpdate]) -> None:
        """Record how the jobs just reconciled came out: the ones that changed nothing are settled."""
        changed = {u.job_db_id for u in updates}
        jobs, ids, answer = self._jobs, self._ids, self._answer
        settled_jobs, settled_obs = self._observed or self._settled
        retry = []
        for i in self._unsettled:
            obs = answer.get(ids[i], _ABSENT)
            if obs is _ABSENT or jobs[i].id in changed:
                settled_jobs[i] = None
                retry.append(i)
            else:
                settled_jobs[i], settled_obs[i] = jobs[i], obs
        self._settled, self._settled_for = (settled_jobs, settled_obs), jobs
        self._settled_answer, self._retry = answer, retry
