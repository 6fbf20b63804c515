"""PerJob keeps what it derived from the jobs that are the same objects as at the last call (at the
same place, when the list kept its length), and derives the others anew: its values (and counts)
are always those of the jobs it was last given."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from monitor.model import Job, JobSpec
from monitor.same_jobs import PerJob
from monitor.states import State

SPEC = JobSpec("lab", "/x/task.sh", "/x")


def _job(n: int, state: State) -> Job:
    return Job("s", "j", n, "lab", state, SPEC, id=n)


# each call: which of 6 jobs are listed, in which order, and which are stored anew in which state
CALLS = st.lists(
    st.tuples(
        st.permutations(range(6)),
        st.integers(0, 6),
        st.lists(st.sampled_from(list(State)), min_size=6, max_size=6),
        st.sets(st.integers(0, 5)),
    ),
    max_size=10,
)


@given(CALLS)
def test_values_and_counts_are_those_of_the_jobs_last_given(calls: list) -> None:
    derived: list[Job] = []

    def state_of(job: Job) -> State:
        derived.append(job)
        return job.state

    per_job = PerJob(state_of, counted=True)
    jobs = {n: _job(n, State.QUEUED) for n in range(6)}
    for order, size, states, anew in calls:
        old = per_job.jobs
        for n in anew:
            jobs[n] = _job(n, states[n])
        listed = [jobs[n] for n in order[:size]]
        derived.clear()
        per_job.update(listed)
        assert per_job.values == [job.state for job in listed]
        assert per_job.counts == Counter(job.state for job in listed)
        if len(old) == len(listed):
            kept = [job for job, was in zip(listed, old, strict=True) if job is was]
        else:
            kept = [job for job in listed if any(job is was for was in old)]
        assert not any(job is seen for job in derived for seen in kept)
