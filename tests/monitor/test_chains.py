"""Chains: a stage goes only when every stage it comes after SUCCEEDED after validation. Pure."""

from __future__ import annotations

from dataclasses import replace

from monitor.chains import gate_updates, ready_stages, stage_label
from monitor.model import Job, JobSpec
from monitor.states import State


def _job(name: str, state: State, after: tuple[str, ...] = (), task: int | None = None, db_id: int = 0,
         stage: tuple[int, int] | None = None) -> Job:  # fmt: skip
    spec = JobSpec("c", "/s", "/w", after=after, stage=stage)
    return Job("s", name, task, "c", state, spec, id=db_id or hash((name, task)) % 10_000)


def test_a_stage_waits_until_every_upstream_succeeded() -> None:
    jobs = [
        _job("prep", State.RUNNING),
        _job("train", State.PENDING, after=("prep",)),
        _job("solo", State.PENDING),
    ]
    assert [j.name for j in ready_stages(jobs)] == ["solo"]
    jobs[0] = replace(jobs[0], state=State.SUCCEEDED)
    assert [j.name for j in ready_stages(jobs)] == ["train", "solo"]


def test_an_array_upstream_counts_as_a_whole() -> None:
    sweep = [_job("sweep", State.SUCCEEDED, task=t) for t in range(3)]
    sweep[1] = replace(sweep[1], state=State.RUNNING)
    evaluate = _job("evaluate", State.PENDING, after=("sweep",))
    assert ready_stages([*sweep, evaluate]) == []
    sweep[1] = replace(sweep[1], state=State.SUCCEEDED)
    assert ready_stages([*sweep, evaluate]) == [evaluate]


def test_partial_or_failed_upstream_holds_and_says_so_once() -> None:
    prep = _job("prep", State.PARTIAL)
    train = _job("train", State.PENDING, after=("prep",), db_id=2)
    (held,) = gate_updates([prep, train], now=5.0)
    assert held.reason is not None and held.reason.startswith("held: prep PARTIAL")
    assert [e.kind for e in held.events] == ["held"]
    train = replace(train, reason=held.reason)
    assert gate_updates([prep, train], now=6.0) == []  # nothing new to say
    prep = replace(prep, state=State.SUCCEEDED)
    assert ready_stages([prep, train]) == [train]  # released once the upstream succeeded


def test_waiting_is_said_without_an_event() -> None:
    prep = _job("prep", State.QUEUED)
    train = _job("train", State.PENDING, after=("prep",), db_id=2)
    (waiting,) = gate_updates([prep, train], now=1.0)
    assert waiting.reason == "waiting for prep" and waiting.events == ()


def test_stage_label() -> None:
    assert stage_label(_job("train-6", State.PENDING, stage=(6, 20))) == "stage 7/20"
    assert stage_label(_job("prep", State.PENDING)) == ""
