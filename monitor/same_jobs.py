"""Values derived from each job of a list, kept from one poll to the next for the jobs that are the
very same objects: the store hands out an unchanged job again as the same object and nobody changes
a job it was handed (store.job_cache), so what was derived from it still holds. An unchanged list
of 10,000 jobs costs one comparison of pointers; a changed one a few passes in C and the
derivation of the jobs that changed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import compress, count, repeat
from operator import is_, is_not
from typing import Generic, TypeVar

from monitor.model import Job

T = TypeVar("T")
_UNKNOWN = object()


class PerJob(Generic[T]):
    def __init__(self, derive: Callable[[Job], T]) -> None:
        self._derive = derive
        self.jobs: list[Job] = []
        self.values: list[T] = []  # derive(job) for each job, in order

    def update(self, jobs: Sequence[Job]) -> bool:
        """Make `values` those of `jobs`, derived anew only for the jobs that are not the same
        objects as at the last call. False when nothing was derived anew."""
        old, jobs = self.jobs, list(jobs)
        if jobs == old:  # the same objects (a job that is another object is compared by value)
            self.jobs = jobs
            return False
        if len(old) == len(jobs):
            fresh = list(compress(range(len(jobs)), map(is_not, old, jobs)))
            values = list(self.values)
        else:  # jobs came or left: find the others by identity (`old` keeps them alive meanwhile)
            by_object = dict(zip(map(id, old), self.values, strict=True))
            values = list(map(by_object.get, map(id, jobs), repeat(_UNKNOWN)))  # type: ignore[arg-type]
            fresh = list(compress(count(), map(is_, values, repeat(_UNKNOWN))))
        derive = self._derive
        for i in fresh:
            values[i] = derive(jobs[i])
        self.jobs, self.values = jobs, values
        return True
