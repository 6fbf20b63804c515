"""Restart policies and the per-poll health check. Pure."""

from __future__ import annotations

from monitor.health import HealthSettings, health_warnings
from monitor.log_growth import log_growth_updates
from monitor.model import Attempt, Job, JobSpec, PathStat, RestartPolicy
from monitor.policies import due_restarts
from monitor.states import State


def _job(state: State, reason: str | None = None, raw: str = "FAILED", attempts: int = 1, **policy) -> Job:
    spec = JobSpec("c", "/s", "/w", restart=RestartPolicy(**policy))
    history = [Attempt(number=n, job_id=str(n), state=state, raw_state=raw, end_time=100.0, start_time=50.0)
               for n in range(1, attempts + 1)]  # fmt: skip
    return Job("s", "j", None, "c", state, spec, reason=reason, exit_code=1, attempts=history, id=1)


def test_restart_on_listed_reason_after_backoff_within_max_attempts() -> None:
    job = _job(State.FAILED, "TIMEOUT", "TIMEOUT", on=("TIMEOUT",), max_attempts=3, backoff=60)
    assert due_restarts([job], now=150.0) == []  # backoff not over
    (due,) = due_restarts([job], now=161.0)
    assert "TIMEOUT" in due.why and "attempt 2 of 3" in due.why


def test_no_restart_for_other_reasons_exhausted_attempts_lost_or_cancelled() -> None:
    assert (
        due_restarts(
            [_job(State.FAILED, "OUT_OF_MEMORY", "OUT_OF_MEMORY", on=("TIMEOUT",), max_attempts=3)], 1e9
        )
        == []
    )
    assert (
        due_restarts(
            [_job(State.FAILED, "TIMEOUT", "TIMEOUT", attempts=3, on=("TIMEOUT",), max_attempts=3)], 1e9
        )
        == []
    )
    assert due_restarts([_job(State.LOST, on=("TIMEOUT",), max_attempts=3)], 1e9) == []
    assert due_restarts([_job(State.CANCELLED, on=("TIMEOUT",), max_attempts=3)], 1e9) == []


def test_exit_code_policy_and_requeue_preference() -> None:
    (due,) = due_restarts([_job(State.FAILED, on=("exit:1",), max_attempts=2, requeue=True)], 1e9)
    assert due.requeue


def test_health_warnings() -> None:
    settings = HealthSettings(stuck_queued=3600, stalled_log=600)
    queued = Job("s", "q", None, "c", State.QUEUED, JobSpec("c", "/s", "/w"),
                 attempts=[Attempt(number=1, job_id="1", state=State.QUEUED, submit_time=0.0)], id=1)  # fmt: skip
    running = Job("s", "r", None, "c", State.RUNNING, JobSpec("c", "/s", "/w"),
                  attempts=[Attempt(number=1, job_id="2", state=State.RUNNING, start_time=0.0, log_grew_at=100.0)],
                  id=2, missing_since=50.0)  # fmt: skip
    kinds = sorted(w.kind for w in health_warnings([queued, running], 4000.0, settings))
    assert kinds == ["missing", "stalled", "stuck"]
    assert health_warnings([queued, running], 500.0, settings)[0].kind == "missing"


def test_log_growth_records_size_and_when_it_grew() -> None:
    job = Job("s", "r", None, "c", State.RUNNING, JobSpec("c", "/s", "/w"),
              attempts=[Attempt(number=1, job_id="2", state=State.RUNNING, log_path="/l", log_size=10, log_grew_at=5.0)],
              id=2)  # fmt: skip
    assert log_growth_updates([job], {"/l": PathStat(10, 0)}, 50.0) == []
    (grew,) = log_growth_updates([job], {"/l": PathStat(20, 0)}, 50.0)
    assert grew.attempt is not None and grew.attempt.changes() == {"log_size": 20, "log_grew_at": 50.0}
