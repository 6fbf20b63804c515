"""An array's state as a whole, and JOB references on the command line."""

from __future__ import annotations

import pytest

from monitor.aggregate import aggregate_state
from monitor.errors import InputError
from monitor.jobref import parse_ref, select
from monitor.model import Job, JobSpec
from monitor.states import State

S, P, F, R, Q = State.SUCCEEDED, State.PARTIAL, State.FAILED, State.RUNNING, State.QUEUED


@pytest.mark.parametrize(
    ("states", "whole"),
    [
        ([S, S, S], S),
        ([S, F, S], P),
        ([S, P], P),
        ([F, F], F),
        ([S, R, Q], R),
        ([Q, Q], Q),
        ([State.VALIDATING, S], State.VALIDATING),
        ([State.CANCELLED, State.CANCELLED], State.CANCELLED),
        ([State.LOST, F], State.LOST),
        ([], State.PENDING),
    ],
)
def test_aggregate(states: list[State], whole: State) -> None:
    assert aggregate_state(states) is whole


def test_parse_ref_forms() -> None:
    assert parse_ref("sweep").name == "sweep"
    ref = parse_ref("demo-sweep/sweep[3]")
    assert (ref.session, ref.name, ref.task) == ("demo-sweep", "sweep", 3)
    assert parse_ref("1234").may_be_scheduler_id
    assert parse_ref("12_3").may_be_scheduler_id
    assert not parse_ref("s/12").may_be_scheduler_id
    assert parse_ref("a name with spaces").name == "a name with spaces"
    with pytest.raises(InputError, match="expected NAME"):
        parse_ref("a/b/c")


def _job(session: str, name: str, task: int | None = None) -> Job:
    return Job(session, name, task, "c", State.QUEUED, JobSpec("c", "/s", "/w"))


def test_select_by_name_task_and_session() -> None:
    jobs = [_job("a", "sweep", 0), _job("a", "sweep", 1), _job("a", "ok"), _job("b", "ok")]
    assert len(select(parse_ref("sweep"), jobs)) == 2
    assert [j.task for j in select(parse_ref("sweep[1]"), jobs)] == [1]
    assert select(parse_ref("b/ok"), jobs)[0].session == "b"
    with pytest.raises(InputError, match="sessions a, b"):
        select(parse_ref("ok"), jobs)
    with pytest.raises(InputError, match="no job 'nope'"):
        select(parse_ref("nope"), jobs)
    by_id = [_job("a", "ok")]
    assert select(parse_ref("77"), jobs, by_id) == by_id
