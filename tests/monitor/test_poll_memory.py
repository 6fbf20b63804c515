"""PollMemory: over any history of polls it asks about the jobs polled_jobs names, and has every job
reconciled whose stored view or observation changed since it last reconciled to nothing (or that
no source knows, or whose update may not have been stored); where the jobs asked about keep their
places, exactly those."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from monitor.model import Attempt, Job, JobSpec, JobUpdate, Observation
from monitor.poll_memory import PollMemory
from monitor.reconcile import polled_jobs
from monitor.states import State

SPEC = JobSpec("lab", "/x/task.sh", "/x")
STATES = [State.QUEUED, State.RUNNING, State.QUEUED, State.SUBMITTING, State.VALIDATING]


def _job(job_id: int, version: int, state: State) -> Job:
    attempt = Attempt(
        1, f"7_{job_id}" if state is not State.SUBMITTING else None, state, submit_time=10.0 + job_id
    )
    return Job("s", "j", job_id, "lab", state, SPEC, attempts=(attempt,), id=job_id, updated_at=version)


# one poll: for each of 6 jobs, whether it is watched, stored anew (in which state), observed anew,
# known to the scheduler, and whether its reconcile gives an update
POLL = st.lists(
    st.tuples(
        st.booleans(), st.booleans(), st.sampled_from(STATES), st.booleans(), st.booleans(), st.booleans()
    ),
    min_size=6,
    max_size=6,
)


@given(st.lists(POLL, min_size=1, max_size=8), st.booleans())
def test_the_jobs_reconciled_are_those_that_changed(polls: list, reorder: bool) -> None:
    memory = PollMemory()
    stored: dict[int, Job] = {}
    seen: dict[str, Observation] = {}
    settled: dict[int, tuple[Job, Observation]] = {}  # what each job last reconciled to nothing with
    previous: list[int] | None = None
    for version, poll in enumerate(polls):
        jobs = []
        for job_id, (watched, anew, state, *_) in enumerate(poll):
            if anew or job_id not in stored:
                stored[job_id] = _job(job_id, version, state)
            if watched:
                jobs.append(stored[job_id])
        if reorder and version % 2:
            jobs.reverse()
        asked = polled_jobs(jobs)
        ids, since = memory.ask(jobs, 100.0)
        assert ids == [j.job_id for j in asked]
        assert not asked or since == min(j.current.submit_time for j in asked)  # type: ignore[union-attr]
        answer = {}
        for job in asked:
            _, _, _, observed_anew, known, _ = poll[job.id]
            if known:
                if observed_anew or job.job_id not in seen:
                    seen[job.job_id] = Observation(job.job_id, "PENDING", reason=f"poll {version}")
                answer[job.job_id] = seen[job.job_id]
        if not asked:
            continue
        reconciled = memory.unsettled(answer)
        required = [j for j in asked if j.job_id not in answer or settled.get(j.id) != (j, answer[j.job_id])]
        place = {j.id: n for n, j in enumerate(asked)}
        assert [place[j.id] for j in reconciled] == sorted(place[j.id] for j in reconciled)
        assert {j.id for j in required} <= {j.id for j in reconciled}
        if previous == [j.id for j in asked]:
            assert [j.id for j in reconciled] == [j.id for j in required]
        previous = [j.id for j in asked]
        updates = [JobUpdate(j.id, j.state, "changed", None) for j in reconciled if poll[j.id][5]]  # type: ignore[arg-type]
        memory.settle(updates)
        changed = {u.job_db_id for u in updates}
        for job in reconciled:
            if job.job_id in answer and job.id not in changed:
                settled[job.id] = (job, answer[job.job_id])  # type: ignore[index]
            else:
                settled.pop(job.id, None)  # type: ignore[arg-type]


def test_a_steady_poll_reconciles_nothing_and_a_changed_observation_only_its_job() -> None:
    jobs = [_job(n, 0, State.QUEUED) for n in range(50)]
    answer = {j.job_id: Observation(j.job_id, "PENDING") for j in jobs}  # type: ignore[misc]
    memory = PollMemory()
    memory.ask(jobs, 0.0)
    assert len(memory.unsettled(answer)) == 50
    memory.settle([])
    memory.ask(list(jobs), 0.0)
    assert memory.unsettled(dict(answer)) == []
    memory.settle([])
    answer["7_7"] = replace(answer["7_7"], reason="held")
    memory.ask(list(jobs), 0.0)
    assert memory.unsettled(answer) == [jobs[7]]
    memory.settle([JobUpdate(7, State.QUEUED, "held", None)])
    memory.ask(list(jobs), 0.0)
    assert memory.unsettled(answer) == [jobs[7]]  # its update was not stored yet: the same job again


def test_a_job_that_left_the_queue_is_the_only_one_reconciled_though_the_answer_shifted() -> None:
    jobs = [_job(n, 0, State.QUEUED) for n in range(50)]
    answer = {j.job_id: Observation(j.job_id, "PENDING") for j in jobs}  # type: ignore[misc]
    memory = PollMemory()
    memory.ask(jobs, 0.0)
    memory.unsettled(answer)
    memory.settle([])
    shifted = {job_id: obs for job_id, obs in answer.items() if job_id != "7_0"}
    shifted["7_0"] = Observation("7_0", "CANCELLED", source="sacct")  # accounting's answer comes last
    memory.ask(list(jobs), 0.0)
    assert memory.unsettled(shifted) == [jobs[0]]
