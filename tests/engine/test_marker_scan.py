"""The marker scanner on real files read by the real LocalBackend.read_many: which jobs are scanned,
complete lines only, caps, rotation, truncation, and offsets that make every line fire once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from backends.local.backend import LocalBackend
from monitor.markers import STREAM, MarkerSettings, marker_scans, scan_markers
from monitor.model import Attempt, Job, JobSpec, JobUpdate, LogOffset, ReadChunk
from monitor.states import State

NOW = 1000.0


class Reads:
    """LocalBackend.read_many, counting its calls."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self.calls: list[list[tuple[str, int, int]]] = []

    async def __call__(self, requests: Sequence[tuple[str, int, int]]) -> dict[str, ReadChunk | None]:
        self.calls.append(list(requests))
        return await self.backend.read_many(requests)


@pytest.fixture
def reads(tmp_path: Path) -> Reads:
    return Reads(LocalBackend("here", tmp_path / "state"))


def job(
    log: Path,
    state: State = State.RUNNING,
    markers: tuple[str, ...] = ("ERROR", r"^step \d+ done$"),
    job_id: int = 1,
) -> Job:
    spec = JobSpec("here", "/bin/true", str(log.parent), markers=markers)
    attempt = Attempt(1, "7", state, log_path=str(log), id=10 * job_id)
    return Job("s", f"j{job_id}", None, "here", state, spec, attempts=(attempt,), id=job_id)


def messages(updates: list[JobUpdate]) -> list[str]:
    return [e.message for u in updates for e in u.events]


def stored_after(updates: list[JobUpdate]) -> dict[tuple[int, int], LogOffset]:
    return {(u.job_db_id, o.attempt): o for u in updates for o in u.log_offsets}


async def scan(
    reads: Reads, jobs: list[Job], stored: dict, settings: MarkerSettings | None = None
) -> tuple[list[JobUpdate], list[str]]:
    return await scan_markers(reads, marker_scans(jobs, jobs, stored), NOW, settings or MarkerSettings())


async def test_complete_matching_lines_fire_once_and_the_offset_follows(reads: Reads, tmp_path: Path) -> None:
    log = tmp_path / "job.out"
    log.write_bytes(b"start\nERROR: disk full\nstep 1 done\nstep 1 done later\nERROR half")
    running = job(log)

    updates, problems = await scan(reads, [running], {})

    assert problems == [] and messages(updates) == ["log: ERROR: disk full", "log: step 1 done"]
    assert [(e.kind, e.job, e.attempt) for e in updates[0].events] == [("marker", running.key, 1)] * 2
    stored = stored_after(updates)
    assert stored[1, 1] == LogOffset(
        1, STREAM, str(log), log.stat().st_size - len(b"ERROR half"), updates[0].log_offsets[0].identity
    )

    with log.open("ab") as handle:
        handle.write(b" done\nnothing\n")
    again, _ = await scan(reads, [running], stored)
    assert messages(again) == ["log: ERROR half done"]
    assert stored_after(again)[1, 1].offset == log.stat().st_size

    assert await scan(reads, [running], stored_after(again)) == ([], [])  # nothing new: nothing to write


async def test_a_finished_log_counts_its_last_line_without_a_newline(reads: Reads, tmp_path: Path) -> None:
    log = tmp_path / "job.out"
    log.write_bytes(b"ok\nERROR at the very end")
    ended = job(log, State.VALIDATING)

    updates, _ = await scan(reads, [ended], {})

    assert messages(updates) == ["log: ERROR at the very end"]
    assert stored_after(updates)[1, 1].offset == log.stat().st_size


def test_which_jobs_are_scanned(tmp_path: Path) -> None:
    log = tmp_path / "job.out"
    running, queued = job(log, job_id=1), job(log, State.QUEUED, job_id=2)
    unmarked = job(log, markers=(), job_id=3)
    ended_before, ended_after = job(log, State.RUNNING, job_id=4), job(log, State.FAILED, job_id=4)
    long_done = job(log, State.FAILED, job_id=5)
    no_log = replace(job(log, job_id=6), attempts=(Attempt(1, None, State.RUNNING),))
    before = [running, queued, unmarked, ended_before, long_done, no_log]
    after = [running, queued, unmarked, ended_after, long_done, no_log]

    scans = marker_scans(before, after, {})

    assert [(s.job.id, s.final) for s in scans] == [(1, False), (4, True)]


async def test_events_per_poll_are_capped_and_the_rest_counted(reads: Reads, tmp_path: Path) -> None:
    log = tmp_path / "job.out"
    log.write_bytes(b"".join(b"ERROR %d\n" % k for k in range(25)))

    updates, _ = await scan(reads, [job(log)], {}, MarkerSettings(max_events=20))

    assert messages(updates) == [f"log: ERROR {k}" for k in range(20)] + ["… 5 more marker lines"]
    assert stored_after(updates)[1, 1].offset == log.stat().st_size  # counted lines are not read again


async def test_bytes_per_poll_are_capped_and_the_rest_read_next_poll(reads: Reads, tmp_path: Path) -> None:
    log = tmp_path / "job.out"
    lines = [b"ERROR line %02d\n" % k for k in range(30)]  # 15 bytes each
    log.write_bytes(b"".join(lines))
    settings = MarkerSettings(max_bytes=100, max_events=100)

    stored: dict[tuple[int, int], LogOffset] = {}
    seen = []
    for _ in range(6):
        updates, _ = await scan(reads, [job(log)], stored, settings)
        seen += messages(updates)
        stored = {**stored, **stored_after(updates)}
    assert seen == [f"log: {line.decode().strip()}" for line in lines]
    assert all(limit == 100 for call in reads.calls for _, _, limit in call)


async def test_a_line_longer_than_a_whole_read_does_not_stall_the_scan(reads: Reads, tmp_path: Path) -> None:
    log = tmp_path / "job.out"
    log.write_bytes(b"ERROR " + b"x" * 500 + b"\nERROR after\n")
    settings = MarkerSettings(max_bytes=200, max_chars=20)

    first, _ = await scan(reads, [job(log)], {}, settings)
    stored = stored_after(first)
    rest = []
    for _ in range(4):
        updates, _ = await scan(reads, [job(log)], stored, settings)
        rest += messages(updates)
        stored = {**stored, **stored_after(updates)}

    assert messages(first) == ["log: ERROR xxxxxxxxxxxxxx…"] and stored_after(first)[1, 1].offset == 200
    assert rest == ["log: ERROR after"]


async def test_a_rotated_log_is_said_once_and_scanned_from_its_start(reads: Reads, tmp_path: Path) -> None:
    log = tmp_path / "job.out"
    log.write_bytes(b"ERROR old\n")
    updates, _ = await scan(reads, [job(log)], {})
    stored = stored_after(updates)
    log.rename(tmp_path / "job.out.1")
    log.write_bytes(b"ERROR new one\n" * 3)  # bigger than the offset: only the identity tells
    reads.calls.clear()

    rotated, _ = await scan(reads, [job(log)], stored)
    after, _ = await scan(reads, [job(log)], stored_after(rotated))

    assert (
        messages(rotated)
        == [f"log rotated: {log}; markers are scanned from its start"] + ["log: ERROR new one"] * 3
    )
    assert rotated[0].events[0].kind == "log"
    assert [call[0][1] for call in reads.calls] == [10, 0, 42]  # read, read again from 0, then the next poll
    assert after == []


async def test_a_truncated_log_is_said_once_and_scanned_from_its_start(reads: Reads, tmp_path: Path) -> None:
    log = tmp_path / "job.out"
    log.write_bytes(b"ERROR one\nfiller line\n")
    stored = stored_after((await scan(reads, [job(log)], {}))[0])
    log.write_bytes(b"ERROR two\n")  # same file, shorter than the offset

    truncated, _ = await scan(reads, [job(log)], stored)
    again, _ = await scan(reads, [job(log)], stored_after(truncated))

    assert messages(truncated) == [
        f"log truncated: {log}; markers are scanned from its start",
        "log: ERROR two",
    ]
    assert again == []


async def test_a_new_log_path_starts_at_zero_without_a_notice(reads: Reads, tmp_path: Path) -> None:
    old, new = tmp_path / "old.out", tmp_path / "new.out"
    old.write_bytes(b"ERROR old\n" * 5)
    new.write_bytes(b"ERROR new\n")
    stored = stored_after((await scan(reads, [job(old)], {}))[0])

    updates, _ = await scan(reads, [job(new)], stored)

    assert messages(updates) == ["log: ERROR new"]


async def test_lines_are_shown_safely_and_carriage_returns_stay_inside_a_line(
    reads: Reads, tmp_path: Path
) -> None:
    log = tmp_path / "job.out"
    log.write_bytes(b"\x1b[31mERROR\x1b[0m red\x07\r\n10%\r50%\rERROR at 60%\r\n\xff bad ERROR\n")

    updates, _ = await scan(reads, [job(log)], {})

    assert messages(updates) == [
        "log: ERROR red\\x07",
        "log: 10%\\x0d50%\\x0dERROR at 60%",
        "log: \\xff bad ERROR",
    ]


async def test_a_missing_log_changes_nothing_and_an_unreadable_one_is_reported(
    reads: Reads, tmp_path: Path
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    missing, unreadable = job(tmp_path / "none.out", job_id=1), job(folder, job_id=2)

    updates, problems = await scan(reads, [missing, unreadable], {})

    assert updates == []
    assert problems == [f"{unreadable.key}: markers: cannot read {folder}: Is a directory"]


async def test_jobs_sharing_a_log_each_get_their_events_from_one_read(reads: Reads, tmp_path: Path) -> None:
    log = tmp_path / "shared.out"
    log.write_bytes(b"ERROR a\n")
    first, second = job(log, job_id=1), job(log, job_id=2)
    stored = stored_after((await scan(reads, [first], {}))[0])
    with log.open("ab") as handle:
        handle.write(b"ERROR b\n")
    reads.calls.clear()

    updates, _ = await scan(reads, [first, second], stored)

    assert reads.calls == [[(str(log), 0, MarkerSettings().max_bytes)]]
    assert {u.job_db_id: [e.message for e in u.events] for u in updates} == {
        1: ["log: ERROR b"],
        2: ["log: ERROR a", "log: ERROR b"],
    }
