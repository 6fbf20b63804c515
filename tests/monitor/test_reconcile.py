"""Reconciliation fed by real captured scheduler output, and its safety properties."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from backends.slurm.parse import parse_sacct, parse_squeue
from backends.slurm.states import map_slurm
from monitor.model import Attempt, Job, JobSpec, Observation, PollReport
from monitor.reconcile import ReconcileSettings, reconcile
from monitor.states import State

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slurm"
IDS = dict(line.split("\t") for line in (FIXTURES / "jobs.txt").read_text().splitlines())
GRACE = ReconcileSettings(lost_grace=600.0)


def _read(stem: str) -> str:
    return (FIXTURES / f"{stem}.txt").read_text()


def _job(job_id: str, state: State = State.QUEUED, db_id: int = 1, **attempt: object) -> Job:
    task = int(job_id.split("_")[1]) if "_" in job_id else None
    spec = JobSpec("lab", "/w/s.sh", "/w")
    first = Attempt(number=1, job_id=job_id, state=state, **attempt)  # type: ignore[arg-type]
    return Job("s", f"job{db_id}", task, "lab", state, spec, attempts=(first,), id=db_id)


def _report(*stems: str, finished_source: bool = True) -> PollReport:
    observations: dict[str, Observation] = {}
    for stem in stems:
        parse = parse_squeue if stem.startswith("squeue") else parse_sacct
        observations.update({o.job_id: o for o in parse(_read(stem))})
    return PollReport(observations, ("squeue", "sacct"), finished_source)


def _by_job(jobs: list[Job], report: PollReport, now: float = 1_795_432_000.0) -> dict[str, tuple]:
    updates = reconcile(jobs, report, now, map_slurm, GRACE)
    found = {}
    for update in updates:
        job = next(j for j in jobs if j.id == update.job_db_id)
        found[job.job_id] = (update.state, update.reason, update.exit_code)
    return found


def test_finished_jobs_are_settled_from_accounting() -> None:
    names = ["completed", "failed", "cancelled", "timeout"]
    jobs = [_job(IDS[n], State.RUNNING, i) for i, n in enumerate(names, 1)]
    result = _by_job(jobs, _report("squeue_3", "sacct_3"))
    assert result[IDS["completed"]] == (State.VALIDATING, None, 0)
    assert result[IDS["failed"]] == (State.FAILED, None, 3)
    assert result[IDS["cancelled"]][:2] == (State.CANCELLED, None)
    assert result[IDS["timeout"]][:2] == (State.FAILED, "TIMEOUT")


def test_array_tasks_each_get_their_own_fate() -> None:
    base = IDS["array"]
    jobs = [_job(f"{base}_{t}", State.QUEUED, t + 1) for t in range(5)]
    result = _by_job(jobs, _report("sacct_3"))
    assert [result[f"{base}_{t}"][0] for t in range(5)] == [
        State.VALIDATING, State.FAILED, State.VALIDATING, State.FAILED, State.VALIDATING,
    ]  # fmt: skip
    assert result[f"{base}_1"][2] == 3


def test_queue_states_and_pending_reasons() -> None:
    jobs = [_job(IDS["held"], State.QUEUED, 1), _job(IDS["running"], State.QUEUED, 2)]
    result = _by_job(jobs, _report("squeue_2"))
    assert result[IDS["held"]] == (State.QUEUED, "JobHeldUser", None)
    assert result[IDS["running"]] == (State.RUNNING, None, None)


def test_requeue_is_recorded_on_the_same_id_not_as_a_failure() -> None:
    job = _job(IDS["requeued"], State.RUNNING, 1)
    obs = {o.job_id: o for o in parse_sacct(_read("sacct_3"))}[IDS["requeued"]]
    assert obs.requeues == 1
    updates = reconcile([job], PollReport({obs.job_id: obs}), 1.0, map_slurm, GRACE)
    (update,) = updates
    assert update.state is State.QUEUED
    assert [e.kind for e in update.events] == ["requeue", "state"]
    assert update.attempt is not None and update.attempt.requeues == 1


def test_unchanged_jobs_produce_no_update() -> None:
    obs = {o.job_id: o for o in parse_squeue(_read("squeue_2"))}[IDS["held"]]
    job = _job(
        IDS["held"], State.QUEUED, 1, raw_state=obs.raw_state, reason=obs.reason, submit_time=obs.submit_time
    )
    job = replace(job, reason=obs.reason)
    assert reconcile([job], PollReport({obs.job_id: obs}), 1.0, map_slurm, GRACE) == []


def test_absent_job_is_marked_missing_then_lost_only_after_grace() -> None:
    job = _job("999", State.RUNNING)
    (first,) = reconcile([job], PollReport({}), 100.0, map_slurm, GRACE)
    assert first.state is State.RUNNING and first.missing_since == 100.0 and not first.events
    job = replace(job, missing_since=100.0)
    assert reconcile([job], PollReport({}), 699.0, map_slurm, GRACE) == []
    (lost,) = reconcile([job], PollReport({}, ("squeue", "sacct")), 701.0, map_slurm, GRACE)
    assert lost.state is State.LOST and "not restarted" in lost.events[0].message


def test_no_finished_source_means_never_lost() -> None:
    job = _job("999", State.RUNNING)
    job = replace(job, missing_since=0.0)
    assert reconcile([job], PollReport({}, finished_source=False), 1e9, map_slurm, GRACE) == []


def test_job_seen_again_clears_missing() -> None:
    job = _job(IDS["held"], State.QUEUED)
    job = replace(job, missing_since=5.0)
    (update,) = reconcile([job], _report("squeue_2"), 10.0, map_slurm, GRACE)
    assert update.clear_missing


def test_unknown_scheduler_word_keeps_state() -> None:
    job = _job("5", State.RUNNING)
    (update,) = reconcile(
        [job], PollReport({"5": Observation("5", "WEIRD_NEW_STATE")}), 1.0, map_slurm, GRACE
    )
    assert update.state is State.RUNNING and "WEIRD_NEW_STATE" in (update.reason or "")


def test_array_task_log_name_resolved_once_its_raw_id_is_known() -> None:
    job = _job("90_1", State.QUEUED, log_path="/w/logs/%x-%j.out")
    obs = Observation("90_1", "RUNNING", raw_id="93")
    (update,) = reconcile([job], PollReport({"90_1": obs}), 1.0, map_slurm, GRACE)
    assert update.attempt is not None and update.attempt.log_path == "/w/logs/job1-93.out"


OBSERVATIONS = st.builds(
    Observation,
    job_id=st.sampled_from(["1", "2", "3_0", "3_1", "4"]),
    raw_state=st.one_of(st.sampled_from(["PENDING", "RUNNING", "COMPLETED", "FAILED", "TIMEOUT"]), st.text()),
    reason=st.one_of(st.none(), st.text(max_size=20)),
    exit_code=st.one_of(st.none(), st.integers(0, 255)),
    requeues=st.integers(0, 3),
)


@settings(max_examples=200)
@given(
    st.lists(OBSERVATIONS, max_size=6),
    st.lists(st.sampled_from(list(State)), min_size=5, max_size=5),
    st.one_of(st.none(), st.floats(0, 1e6)),
    st.booleans(),
)
def test_reconcile_is_total_and_safe(
    observations: list[Observation], states: list[State], missing: float | None, finished_source: bool
) -> None:
    jobs = [
        replace(_job(i, s, n), missing_since=missing)
        for n, (i, s) in enumerate(zip(["1", "2", "3_0", "3_1", "4"], states, strict=True), 1)
    ]
    report = PollReport({o.job_id: o for o in observations}, ("squeue",), finished_source)
    updates = reconcile(jobs, report, 2e6, map_slurm, GRACE)
    polled = {j.id for j in jobs if j.state in (State.QUEUED, State.RUNNING)}
    assert {u.job_db_id for u in updates} <= polled
    for update in updates:
        job = next(j for j in jobs if j.id == update.job_db_id)
        if job.job_id not in report.observations:
            assert update.state in (job.state, State.LOST)
            if update.state is State.LOST:
                assert finished_source and job.missing_since is not None


def test_running_job_back_in_the_queue_is_a_requeue_even_without_a_count() -> None:
    job = _job("77", State.RUNNING)
    obs = Observation("77", "PENDING", reason="BeginTime", source="squeue")  # squeue shows no restart count
    (update,) = reconcile([job], PollReport({"77": obs}), 1.0, map_slurm, GRACE)
    assert update.state is State.QUEUED and update.attempt is not None and update.attempt.requeues == 1
    assert [e.kind for e in update.events] == ["requeue", "state"]
    job = replace(job, state=State.QUEUED, attempts=(replace(job.attempts[0], requeues=1),))
    later = Observation("77", "PENDING", reason="BeginTime", requeues=1, source="sacct")
    updates = reconcile([job], PollReport({"77": later}), 2.0, map_slurm, GRACE)
    assert all("requeue" not in [e.kind for e in u.events] for u in updates)  # counted once
