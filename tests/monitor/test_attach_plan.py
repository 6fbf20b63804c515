"""Re-attach planning: intents settled by tag, resubmissions found by name. Pure."""

from __future__ import annotations

from dataclasses import replace

from backends.slurm.states import map_slurm
from monitor.attach import found_by_name, searched_jobs, settle_intents, task_of
from monitor.model import Attempt, Job, JobSpec, Observation, PollReport, Submission
from monitor.states import State

SPEC = JobSpec("c", "/s", "/w")


def _intent(tag: str, tasks: tuple[int | None, ...] = (None,), created: float = 100.0) -> Submission:
    return Submission(1, "s", "train", "submit", tag, "c", tasks, "intent", created)


def test_intent_found_by_tag_is_confirmed_with_its_ids() -> None:
    report = PollReport(
        {
            "40_1": Observation("40_1", "PENDING", tag="jobdeck:a"),
            "40_3": Observation("40_3", "RUNNING", tag="jobdeck:a"),
        }
    )
    (verdict,) = settle_intents([_intent("jobdeck:a", (1, 3))], report, now=110.0, grace=120.0)
    assert verdict.result is not None
    assert verdict.result.job_id == "40" and verdict.result.task_ids == {1: "40_1", 3: "40_3"}


def test_intent_not_found_waits_for_the_grace_then_is_offered_again() -> None:
    report = PollReport({"9": Observation("9", "RUNNING", tag="jobdeck:other")})
    assert settle_intents([_intent("jobdeck:a")], report, now=150.0, grace=120.0) == []
    (verdict,) = settle_intents([_intent("jobdeck:a")], report, now=221.0, grace=120.0)
    assert verdict.result is None


def test_intent_never_judged_missing_when_accounting_did_not_answer() -> None:
    report = PollReport({}, finished_source=False)
    assert settle_intents([_intent("jobdeck:a")], report, now=10_000.0, grace=120.0) == []


def _job(state: State, job_id: str, submitted: float, task: int | None = None, db_id: int = 1) -> Job:
    attempt = Attempt(number=1, job_id=job_id, state=state, submit_time=submitted)
    return Job("s", "train", task, "c", state, SPEC, attempts=(attempt,), id=db_id)


def test_cancelled_job_resubmitted_by_hand_becomes_a_new_attempt() -> None:
    job = _job(State.CANCELLED, "50", 100.0)
    report = PollReport({"61": Observation("61", "RUNNING", name="train", submit_time=200.0)})
    (update,) = found_by_name([job], report, {"50"}, 300.0, map_slurm)
    assert update.state is State.RUNNING
    assert update.new_attempt is not None and update.new_attempt.job_id == "61"
    assert update.new_attempt.kind == "found" and update.events[0].kind == "found"


def test_found_by_name_ignores_known_older_and_jobdeck_tagged_jobs() -> None:
    job = _job(State.CANCELLED, "50", 100.0)
    report = PollReport(
        {
            "50": Observation("50", "CANCELLED", name="train", submit_time=100.0),  # itself
            "40": Observation("40", "RUNNING", name="train", submit_time=50.0),  # older
            "70": Observation(
                "70", "RUNNING", name="train", submit_time=300.0, tag="jobdeck:x"
            ),  # another session's, in this database or another one
            "80": Observation("80", "RUNNING", name="other", submit_time=300.0),  # another name
        }
    )
    assert found_by_name([job], report, {"50"}, 400.0, map_slurm) == []


def test_a_job_resubmitted_by_hand_with_a_comment_of_its_own_is_found() -> None:
    job = _job(State.CANCELLED, "50", 100.0)
    report = PollReport({"60": Observation("60", "RUNNING", name="train", submit_time=200.0, tag="rerun")})
    (update,) = found_by_name([job], report, {"50"}, 300.0, map_slurm)
    assert update.new_attempt is not None and update.new_attempt.job_id == "60"


def test_array_task_found_by_name_and_index() -> None:
    tasks = [_job(State.CANCELLED, f"50_{t}", 100.0, task=t, db_id=t + 1) for t in range(3)]
    report = PollReport({"77_2": Observation("77_2", "PENDING", name="train", submit_time=200.0)})
    (update,) = found_by_name(tasks, report, {"50_0", "50_1", "50_2"}, 300.0, map_slurm)
    assert update.job_db_id == 3 and update.new_attempt is not None and update.new_attempt.job_id == "77_2"


def test_only_settled_or_missing_jobs_are_searched() -> None:
    running = _job(State.RUNNING, "1", 1.0)
    missing = replace(_job(State.RUNNING, "2", 1.0, db_id=2), missing_since=5.0)
    failed = _job(State.FAILED, "3", 1.0, db_id=3)
    assert [j.id for j in searched_jobs([running, missing, failed])] == [2, 3]


def test_task_of() -> None:
    assert (task_of("12"), task_of("12_7"), task_of("12_[1-3]")) == (None, 7, None)
