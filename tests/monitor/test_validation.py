"""Outputs decide success: SUCCEEDED, PARTIAL or FAILED, with a grace period for late files."""

from __future__ import annotations

from monitor.model import Attempt, Job, JobSpec, OutputCheck, PathStat
from monitor.states import State
from monitor.validation import ValidationSettings, check_output, judge, plan_checks

SETTINGS = ValidationSettings(grace=30.0)


def _job(outputs: tuple[OutputCheck, ...], state: State = State.VALIDATING, raw: str = "COMPLETED") -> Job:
    attempt = Attempt(number=2, job_id="7", state=state, raw_state=raw, end_time=1000.0)
    spec = JobSpec("c", "/s", "/w", outputs=outputs)
    return Job("s", "j", None, "c", state, spec, attempts=(attempt,), updated_at=1000.0, id=1)


OUTS = (OutputCheck("/o/a-{attempt}"), OutputCheck("/o/b"), OutputCheck("/o/c"))


def test_plan_fills_in_the_attempt() -> None:
    assert [c.path for c in plan_checks(_job(OUTS))] == ["/o/a-2", "/o/b", "/o/c"]


def test_all_present_is_succeeded() -> None:
    job = _job(OUTS)
    stats = {c.path: PathStat(1, 0) for c in plan_checks(job)}
    update = judge(job, plan_checks(job), stats, 2000.0, SETTINGS)
    assert update is not None and update.state is State.SUCCEEDED
    assert update.outputs is not None and all(o.present for o in update.outputs)


def test_some_missing_is_partial_after_grace_and_waits_within_it() -> None:
    job = _job(OUTS)
    stats = {"/o/a-2": PathStat(1, 0)}
    waiting = judge(job, plan_checks(job), stats, 1010.0, SETTINGS)
    assert waiting is not None and waiting.state is State.VALIDATING
    assert "1/3" in (waiting.reason or "")
    settled = judge(job, plan_checks(job), stats, 1031.0, SETTINGS)
    assert settled is not None and settled.state is State.PARTIAL
    assert settled.reason == "2 of 3 outputs missing"


def test_none_present_is_failed() -> None:
    job = _job(OUTS)
    update = judge(job, plan_checks(job), {}, 5000.0, SETTINGS)
    assert update is not None and update.state is State.FAILED


def test_no_outputs_declared_trusts_completion() -> None:
    update = judge(_job(()), [], {}, 1001.0, SETTINGS)
    assert update is not None and update.state is State.SUCCEEDED


def test_validation_off_says_so() -> None:
    update = judge(_job(OUTS), plan_checks(_job(OUTS)), {}, 1001.0, ValidationSettings(enabled=False))
    assert update is not None and update.state is State.SUCCEEDED
    assert "not validated" in (update.reason or "")


def test_force_turns_failed_into_succeeded_when_outputs_appear() -> None:
    job = _job(OUTS, state=State.FAILED)
    stats = {c.path: PathStat(1, 0) for c in plan_checks(job)}
    assert judge(job, plan_checks(job), stats, 9000.0, SETTINGS) is None
    update = judge(job, plan_checks(job), stats, 9000.0, SETTINGS, force=True)
    assert update is not None and update.state is State.SUCCEEDED


def test_force_never_overrules_a_scheduler_failure() -> None:
    job = _job(OUTS, state=State.FAILED, raw="FAILED")
    stats = {c.path: PathStat(1, 0) for c in plan_checks(job)}
    update = judge(job, plan_checks(job), stats, 9000.0, SETTINGS, force=True)
    assert update is not None and update.state is State.FAILED


def test_stricter_checks() -> None:
    assert check_output(OutputCheck("p", non_empty=True), PathStat(0, 0)).problem == "empty"
    assert not check_output(OutputCheck("p", min_size=10), PathStat(5, 0)).present
    assert check_output(OutputCheck("p", sha256="ab"), PathStat(5, 0, "cd")).problem == "checksum differs"
    assert check_output(OutputCheck("p", sha256="AB"), PathStat(5, 0, "ab")).present
    assert check_output(OutputCheck("p"), None).problem == "missing"
