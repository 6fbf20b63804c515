"""The jobs screen's rows kept between refreshes: a job that is the same object keeps its row, a
changed one gets a new row, a running one's ELAPSED follows the clock, and whatever the history
the rows are those a fresh cache builds."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.model import Attempt, Job, JobSpec
from monitor.states import State
from tui.row_cache import RowCache

T0 = 1_000_000.0
SPEC = JobSpec("c1", "/run.sh", "/work")


def job(name: str, state: State = State.RUNNING, task: int | None = None, started: float | None = T0) -> Job:
    ended = None if state in (State.RUNNING, State.QUEUED) or started is None else started + 90
    attempt = Attempt(1, f"{name}-1", state, start_time=started, end_time=ended)
    return Job("s", name, task, "c1", state, SPEC, attempts=(attempt,))


def cells(cache: RowCache, jobs: list[Job], now: float, **view: object) -> dict[str, tuple[str, ...]]:
    return {row.key: row.cells for row in cache.rows(jobs, now, **view)}  # type: ignore[arg-type]


def test_rows_in_manifest_order_with_each_array_under_its_group_row() -> None:
    jobs = [
        job("prep", State.SUCCEEDED),
        job("sweep", task=0),
        job("sweep", State.FAILED, task=1),
        job("post"),
    ]
    rows = RowCache().rows(jobs, T0 + 30)
    assert [(r.key, r.parent) for r in rows] == [
        ("s/prep", None),
        ("s/sweep", None),
        ("s/sweep[0]", "s/sweep"),
        ("s/sweep[1]", "s/sweep"),
        ("s/post", None),
    ]
    assert rows[1].cells[:4] == ("sweep", "2", "RUNNING", "▶1 ✖1")
    assert rows[0].cells[6] == "1:30" and rows[4].cells[6] == "0:30"


def test_an_unchanged_job_keeps_its_row_object_and_a_changed_one_gets_a_new_row() -> None:
    jobs = [job("a", State.SUCCEEDED), job("b", State.QUEUED, started=None), job("c", State.FAILED)]
    cache = RowCache()
    first = cache.rows(jobs, T0)
    jobs[1] = replace(jobs[1], state=State.CANCELLED, reason="by user")
    second = cache.rows(jobs, T0 + 5)
    assert second[0] is first[0] and second[2] is first[2]
    assert second[1] is not first[1]
    assert second[1].cells[2:4] == ("CANCELLED", "by user")
    assert cache.by_key["s/b"] is jobs[1]


def test_a_running_jobs_elapsed_advances_with_the_clock_and_a_finished_ones_does_not() -> None:
    jobs = [job("run"), job("done", State.SUCCEEDED)]
    cache = RowCache()
    first = cache.rows(jobs, T0 + 59)
    assert [r.cells[6] for r in first] == ["0:59", "1:30"]
    same_second = cache.rows(jobs, T0 + 59.5)
    assert same_second[0] is first[0]
    later = cache.rows(jobs, T0 + 3_725)
    assert later[0].cells[6] == "1:02:05"
    assert later[0].cells[:6] == first[0].cells[:6]
    assert later[1] is first[1]


def test_a_job_that_starts_running_gets_a_ticking_elapsed() -> None:
    jobs = [job("q", State.QUEUED, started=None)]
    cache = RowCache()
    assert cache.rows(jobs, T0)[0].cells[6] == "-"
    jobs[0] = job("q", State.RUNNING, started=T0 + 10)
    assert cache.rows(jobs, T0 + 20)[0].cells[6] == "0:10"
    assert cache.rows(jobs, T0 + 80)[0].cells[6] == "1:10"


def test_an_arrays_group_row_is_rebuilt_when_a_task_changes_and_kept_otherwise() -> None:
    jobs = [job("arr", task=i) for i in range(3)] + [job("solo", State.SUCCEEDED)]
    cache = RowCache()
    first = cache.rows(jobs, T0)
    handed_out = cache.groups["s/arr"]
    jobs[3] = replace(jobs[3], reason="checked")
    assert cache.rows(jobs, T0)[0] is first[0]
    jobs[1] = replace(jobs[1], state=State.FAILED)
    third = cache.rows(jobs, T0)
    assert third[0] is not first[0]
    assert third[0].cells[2:4] == ("RUNNING", "▶2 ✖1")
    assert cache.groups["s/arr"][1] is jobs[1]
    assert handed_out[1] is not jobs[1]  # a list given out before is not changed under its holder


def test_a_warning_replaces_the_reason_of_that_job_only() -> None:
    jobs = [job("a", State.QUEUED, started=None), job("b", State.QUEUED, started=None)]
    cache = RowCache()
    first = cache.rows(jobs, T0)
    warned = cache.rows(jobs, T0, warnings={"s/a": "queued for 7 h"})
    assert warned[0].cells[3] == "⚠ queued for 7 h"
    assert warned[1] is first[1]
    assert cache.rows(jobs, T0)[0].cells[3] == ""


def test_hiding_finished_jobs_leaves_out_settled_ones_and_fully_settled_arrays() -> None:
    jobs = [
        job("done", State.SUCCEEDED),
        job("arr", State.FAILED, task=0),
        job("arr", State.SUCCEEDED, task=1),
    ]
    jobs.append(job("live"))
    cache = RowCache()
    assert list(cells(cache, jobs, T0, show_finished=False)) == ["s/live"]
    jobs[2] = replace(jobs[2], state=State.RUNNING)
    assert list(cells(cache, jobs, T0, show_finished=False)) == ["s/arr", "s/arr[1]", "s/live"]
    assert len(cells(cache, jobs, T0, show_finished=True)) == 5


STATES = [State.QUEUED, State.RUNNING, State.SUCCEEDED, State.FAILED, State.CANCELLED]
step = st.one_of(
    st.tuples(st.just("state"), st.integers(0, 11), st.sampled_from(STATES)),
    st.tuples(st.just("clock"), st.floats(0, 4_000)),
    st.tuples(st.just("finished"), st.booleans()),
    st.tuples(st.just("warn"), st.integers(0, 11)),
    st.tuples(st.just("drop"), st.integers(0, 11)),
    st.tuples(st.just("add"), st.integers(0, 1_000)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=25))
def test_kept_rows_are_always_those_of_a_fresh_cache(steps: list[tuple]) -> None:
    jobs = [
        job(f"arr{i % 2}", STATES[i % 5], task=i) if i % 3 else job(f"j{i}", STATES[i % 5]) for i in range(12)
    ]
    cache, now, show_finished, warnings = RowCache(), T0, True, {}
    for name, *args in steps:
        if name == "state" and args[0] < len(jobs):
            old = jobs[args[0]]
            started = old.current.start_time if old.current and old.current.start_time else T0
            jobs[args[0]] = replace(job(old.name, args[1], old.task, started), reason=f"r{len(steps)}")
        elif name == "clock":
            now += args[0]
        elif name == "finished":
            show_finished = args[0]
        elif name == "warn" and args[0] < len(jobs):
            warnings = {str(jobs[args[0]].key): "stuck"}
        elif name == "drop" and args[0] < len(jobs):
            del jobs[args[0]]
        elif name == "add":
            jobs.append(job(f"new{args[0]}", started=now - args[0]))
        jobs = list({str(j.key): j for j in jobs}.values())
        kept = cache.rows(jobs, now, show_finished, warnings)
        fresh = RowCache()
        assert kept == fresh.rows(jobs, now, show_finished, warnings)
        assert cache.by_key == fresh.by_key
        assert cache.groups == fresh.groups
