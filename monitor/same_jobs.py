"""Values derived from each job of a list, kept from one poll to the next for the jobs that are the
very same objects: the store hands out an unchanged job again as the same object and nobody changes
a job it was handed (store.job_cache), so what was derived from it still holds. An unchanged list
of 10,000 jobs costs one comparison of pointers; a changed one a few passes in C and the
derivation of the jobs that changed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from itertools import compress, count, repeat
from operator import is_, is_not
from typing import Generic, TypeVar

from monitor.model import Job

T = TypeVar("T")
_UNKNOWN = object()


class PerJob(Generic[T]):
    def __init__(self, derive: Callable[[Job], T], counted: bool = False) -> None:
        self._derive = derive
        self.jobs: list[Job] = []
        self.values: list[T] = []  # derive(job) for each job, in order
        # with `counted`, how many jobs have each value (hashable), so a question like "is any job
        # validating?" needs no pass over the jobs
        self.counts: Counter[T] | None = Counter() if counted else None

    def update(self, jobs: list[Job]) -> bool:
        """Make `values` those of `jobs` (kept: do not change the list afterwards), derived anew
        only for the jobs that are not the same objects as at the last call. False when nothing was
        derived anew."""
        old = self.jobs
        if jobs == old:  # the same objects (a job that is another object is compared by value)
            self.jobs = jobs
            return False
        derive, counts = self._derive, self.counts
        if len(old) == len(jobs):
            # the places where the job is another object than at the last call (no Python loop)
            places = list(compress(range(len(jobs)), map(is_not, old, jobs)))
            new = [derive(jobs[i]) for i in places]  # nothing is changed before all are derived
            values = self.values
            if counts is not None:
                counts.subtract(values[i] for i in places)
                counts.update(new)
                self.counts = +counts  # without the values no job has any more
            for i, value in zip(places, new, strict=True):
                values[i] = value
        else:  # jobs came or left: find the others by identity (`old` keeps them alive meanwhile)
            by_object = dict(zip(map(id, old), self.values, strict=True))
            values = list(map(by_object.get, map(id, jobs), repeat(_UNKNOWN)))  # type: ignore[arg-type]
            for i in compress(count(), map(is_, values, repeat(_UNKNOWN))):  # the places of new objects
                values[i] = derive(jobs[i])
            self.values = values
            if counts is not None:
                self.counts = Counter(values)
        self.jobs = jobs
        return True
