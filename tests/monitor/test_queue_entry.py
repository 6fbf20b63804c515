"""The queue's pure parts: the canonical state of a job no manifest declares outputs for, and the
elapsed time and time left a row shows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backends.kubernetes.states import map_kubernetes
from backends.slurm.states import map_slurm
from monitor.queue import QueueEntry, queue_state
from monitor.state_map import Mapped
from monitor.states import TERMINAL, State


def entry(**fields: object) -> QueueEntry:
    base: dict[str, object] = {"cluster": "lab", "job_id": "7", "name": "n", "state": State.RUNNING,
                               "scheduler_state": "RUNNING"}  # fmt: skip
    return QueueEntry(**{**base, **fields})  # type: ignore[arg-type]


def test_a_job_that_ran_to_its_end_is_decided_by_its_exit_code() -> None:
    completed = map_slurm("COMPLETED")
    assert queue_state(completed, 0) is State.SUCCEEDED
    assert queue_state(completed, None) is State.SUCCEEDED
    assert queue_state(completed, 3) is State.FAILED
    assert queue_state(map_slurm("FAILED"), 3) is State.FAILED
    assert queue_state(map_slurm("TIMEOUT"), 0) is State.FAILED
    assert queue_state(map_slurm("PENDING"), None) is State.QUEUED
    assert queue_state(map_slurm("CANCELLED"), 0) is State.CANCELLED


@given(st.text(max_size=20), st.one_of(st.none(), st.integers(-5, 300)))
def test_every_scheduler_word_gets_a_state_and_never_validating(word: str, code: int | None) -> None:
    for mapper in (map_slurm, map_kubernetes):
        state = queue_state(mapper(word, None), code)
        assert isinstance(state, State) and state is not State.VALIDATING


def test_an_unknown_word_is_queued_while_it_may_still_run() -> None:
    assert queue_state(Mapped(None, "WHATEVER"), None) is State.QUEUED


def test_elapsed_counts_while_running_and_is_accountings_once_finished() -> None:
    running = entry(start_time=1000.0, time_limit=600.0)
    assert running.elapsed_at(1100.0) == 100.0
    assert running.time_left_at(1100.0) == 500.0
    assert running.time_left_at(5000.0) == 0.0
    done = entry(state=State.SUCCEEDED, start_time=1000.0, end_time=1050.0, elapsed=49.0, time_limit=600.0)
    assert done.elapsed_at(9999.0) == 49.0 and done.time_left_at(1010.0) is None
    assert entry(state=State.FAILED, start_time=1000.0, end_time=1030.0).elapsed_at(9999.0) == 30.0
    waiting = entry(state=State.QUEUED, time_limit=60.0)
    assert waiting.elapsed_at(1.0) is None and waiting.time_left_at(1.0) is None
    assert entry(start_time=1000.0).time_left_at(1100.0) is None  # no limit said: none shown


@given(
    st.floats(0, 1e9),
    st.floats(0, 1e6),
    st.one_of(st.none(), st.floats(1, 1e6)),
    st.sampled_from(list(State)),
)
def test_elapsed_and_time_left_are_never_negative(
    start: float, later: float, limit: float | None, state: State
) -> None:
    e = entry(
        state=state,
        start_time=start,
        time_limit=limit,
        end_time=start + later / 2 if state in TERMINAL else None,
    )
    ran = e.elapsed_at(start + later)
    left = e.time_left_at(start + later)
    assert ran is not None and ran >= 0
    assert left is None or 0 <= left <= (limit or 0)
    assert e.key == "lab/7"
