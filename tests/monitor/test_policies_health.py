"""Restart policies and the per-poll health check. Pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from monitor.health import HealthCheck, HealthSettings, health_warnings
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
                 attempts=(Attempt(number=1, job_id="1", state=State.QUEUED, submit_time=0.0),), id=1)  # fmt: skip
    running = Job("s", "r", None, "c", State.RUNNING, JobSpec("c", "/s", "/w"),
                  attempts=(Attempt(number=1, job_id="2", state=State.RUNNING, start_time=0.0, log_grew_at=100.0),),
                  id=2, missing_since=50.0)  # fmt: skip
    kinds = sorted(w.kind for w in health_warnings([queued, running], 4000.0, settings))
    assert kinds == ["missing", "stalled", "stuck"]
    assert health_warnings([queued, running], 500.0, settings)[0].kind == "missing"


# a job as one poll reads it: state, missing since, submitted, started, log grown (None: unknown)
TIMES = st.one_of(st.none(), st.sampled_from([0.0, 100.0, 3000.0, 3599.5, 3600.0, 7000.0]))
VIEWS = st.tuples(
    st.sampled_from([State.QUEUED, State.RUNNING, State.VALIDATING]), TIMES, TIMES, TIMES, TIMES
)


def _viewed(n: int, view: tuple) -> Job:
    state, missing, submitted, started, grew = view
    attempt = Attempt(number=1, job_id=str(n), state=state, submit_time=submitted, start_time=started,
                      log_grew_at=grew)  # fmt: skip
    return Job("s", str(n), None, "c", state, JobSpec("c", "/s", "/w"), attempts=(attempt,), id=n,
               missing_since=missing)  # fmt: skip


@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.booleans(), VIEWS), min_size=4, max_size=4),
            st.one_of(st.floats(0, 9000), st.sampled_from([600.5, 3600.5, 3700.25, 4200.5, 7200.5])),
        ),
        max_size=8,
    )
)
def test_the_health_check_over_successive_polls_warns_as_a_fresh_one(polls: list) -> None:
    settings = HealthSettings(stuck_queued=3600, stalled_log=600)
    check, jobs = HealthCheck(), [_viewed(n, (State.QUEUED, None, None, None, None)) for n in range(4)]
    for changes, now in polls:
        jobs = [
            _viewed(n, view) if anew else job
            for n, (job, (anew, view)) in enumerate(zip(jobs, changes, strict=True))
        ]
        shown = jobs[: 2 + int(now) % 3]  # jobs come and go
        assert check.warnings(shown, now, settings) == health_warnings(shown, now, settings)


def test_log_growth_records_size_and_when_it_grew() -> None:
    job = Job("s", "r", None, "c", State.RUNNING, JobSpec("c", "/s", "/w"),
              attempts=(Attempt(number=1, job_id="2", state=State.RUNNING, log_path="/l", log_size=10, log_grew_at=5.0),),
              id=2)  # fmt: skip
    assert log_growth_updates([job], {"/l": PathStat(10, 0)}, 50.0) == []
    (grew,) = log_growth_updates([job], {"/l": PathStat(20, 0)}, 50.0)
    assert grew.attempt is not None and grew.attempt.changes() == {"log_size": 20, "log_grew_at": 50.0}


def test_the_health_check_warns_from_the_first_poll_past_a_limit() -> None:
    settings = HealthSettings(stuck_queued=3600, stalled_log=600)
    queued = _viewed(1, (State.QUEUED, None, 0.0, None, None))
    running = _viewed(2, (State.RUNNING, None, None, 0.0, None))
    check = HealthCheck()
    assert check.warnings([queued, running], 600.0, settings) == []
    assert [w.kind for w in check.warnings([queued, running], 600.25, settings)] == ["stalled"]
    assert [w.kind for w in check.warnings([queued, running], 3600.25, settings)] == ["stuck", "stalled"]
