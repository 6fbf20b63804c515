"""What waits for a monitor, and when the views say so. Pure."""

from __future__ import annotations

import time

from monitor.model import Attempt, Job, JobSpec, RestartPolicy
from monitor.states import State
from monitor.unwatched import STALE_CYCLES, unwatched, waiting_work

POLICY = RestartPolicy(on=("exit:3",), max_attempts=3, backoff=600.0)
NO_POLICY = RestartPolicy()


def _job(name: str, state: State, after: tuple[str, ...] = (), exit_code: int | None = None,
         attempts: int = 0, policy: RestartPolicy = NO_POLICY) -> Job:  # fmt: skip
    spec = JobSpec("c", "/s", "/w", after=after, restart=policy)
    tried = tuple(Attempt(n, str(n), state, end_time=100.0) for n in range(1, attempts + 1))
    return Job("s", name, None, "c", state, spec, exit_code=exit_code, attempts=tried, id=hash(name) % 10_000)


def test_stages_not_held_and_restarts_a_policy_will_make_wait_for_a_monitor() -> None:
    jobs = [
        _job("first", State.SUCCEEDED, attempts=1),
        _job("ready", State.PENDING, after=("first",)),  # due now
        _job("later", State.PENDING, after=("ready",)),  # due once `ready` succeeds
        _job(
            "broken", State.FAILED, exit_code=3, attempts=1, policy=POLICY
        ),  # backoff not over: still counts
        _job("spent", State.FAILED, exit_code=3, attempts=3, policy=POLICY),  # no attempt left
        _job("bad", State.PARTIAL, attempts=1),
        _job("held", State.PENDING, after=("bad",)),  # held by a PARTIAL upstream: a person decides
        _job("plain", State.PENDING),  # not a stage: submitted by a person, not a monitor
    ]
    assert waiting_work(jobs) == (2, 1)


def test_said_only_after_a_few_poll_intervals_without_a_completed_cycle() -> None:
    jobs = [_job("first", State.SUCCEEDED, attempts=1), _job("next", State.PENDING, after=("first",))]
    now = time.time()
    assert unwatched(jobs, now - STALE_CYCLES * 5.0 + 1, now, 5.0) is None
    late = unwatched(jobs, now - STALE_CYCLES * 5.0 - 1, now, 5.0)
    assert late is not None and (late.stages, late.restarts) == (1, 0)
    assert late.summary() == time.strftime("unwatched since %H:%M: 1 stage wait", time.localtime(late.since))
    never = unwatched(jobs, None, now, 5.0)
    assert never is not None and never.summary() == "unwatched by any monitor yet: 1 stage wait"
    assert unwatched(jobs[:1], None, now, 5.0) is None  # nothing waits: nothing to say
