"""Marker lines: the lines of a running attempt's log that match one of its job's `markers`, each
recorded once as an event.

Only bytes not scanned before are read, all files of a cluster in one batched read. The new offset
travels in the same JobUpdate as the events it produced, so the store writes both in one
transaction: a monitor that dies between polls neither fires a line twice nor skips one. A log whose
file was replaced (another identity) or truncated (smaller than the offset) is scanned again from
its start, and that is said once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from monitor.log_tail import ReadMany, display_text
from monitor.model import Event, Job, JobUpdate, LogOffset, ReadChunk
from monitor.states import IN_SCHEDULER, State

STREAM = "markers"  # the log_offsets stream of the scanner


@dataclass(frozen=True, slots=True)
class MarkerSettings:
    max_bytes: int = 1024 * 1024  # read per file per poll; the rest waits for the next poll
    max_events: int = 20  # marker events per job per poll; the rest is counted in one more event
    max_chars: int = 300  # of a line, in its event


@dataclass(frozen=True, slots=True)
class Scan:
    """One job's log to scan at this poll, from where the last scan stopped."""

    job: Job  # as it reads after this poll's updates
    path: str
    start: int
    identity: str | None
    stored: LogOffset | None
    final: bool  # the job no longer runs: a last line without a newline is complete
    restarted: str | None = None  # "log rotated" / "log truncated" when scanning starts again at 0


def marker_scans(
    before: Sequence[Job], after: Sequence[Job], stored: Mapping[tuple[int, int], LogOffset]
) -> list[Scan]:
    """The jobs with markers whose log is scanned now: running ones, and the ones that just left the
    scheduler or are validating, so the last lines are not missed. `before` and `after` are the
    same jobs, in order, before and after this poll's updates."""
    scans = []
    for old, job in zip(before, after, strict=True):
        attempt = job.current
        if not job.spec.markers or attempt is None or attempt.log_path is None or job.id is None:
            continue
        left = old.state in IN_SCHEDULER and job.state not in IN_SCHEDULER
        if job.state is not State.RUNNING and job.state is not State.VALIDATING and not left:
            continue
        offset = stored.get((job.id, attempt.number))
        same = offset is not None and offset.path == attempt.log_path
        start, identity = (offset.offset, offset.identity) if offset is not None and same else (0, None)
        scans.append(Scan(job, attempt.log_path, start, identity, offset, job.state is not State.RUNNING))
    return scans


async def scan_markers(
    read_many: ReadMany, scans: Sequence[Scan], now: float, settings: MarkerSettings = MarkerSettings()
) -> tuple[list[JobUpdate], list[str]]:
    """One batched read of every log (and one more for the logs that must be read again from their
    start); the updates carrying events and offsets, and a line for each log that could not be read."""
    chunks = await _read(read_many, scans, settings.max_bytes)
    restarts = [_restart(s, chunks[s.path][0]) for s in scans]
    if any(restarts):
        scans = [
            replace(s, start=0, identity=None, restarted=why) if why else s
            for s, why in zip(scans, restarts, strict=True)
        ]
        chunks.update(await _read(read_many, [s for s in scans if s.restarted], settings.max_bytes))
    updates, problems = [], []
    for scan in scans:
        chunk, base = chunks[scan.path]
        if chunk is not None and chunk.error is not None:
            problems.append(f"{scan.job.key}: markers: cannot read {scan.path}: {chunk.error}")
        elif chunk is not None and (update := _update(scan, chunk, base, now, settings)) is not None:
            updates.append(update)
    return updates, problems


async def _read(
    read_many: ReadMany, scans: Sequence[Scan], limit: int
) -> dict[str, tuple[ReadChunk | None, int]]:
    """Each path once, from the earliest offset any job sharing it needs; with that offset."""
    starts: dict[str, int] = {}
    for scan in scans:
        starts[scan.path] = min(scan.start, starts.get(scan.path, scan.start))
    found = await read_many([(path, start, limit) for path, start in starts.items()])
    return {path: (found.get(path), start) for path, start in starts.items()}


def _restart(scan: Scan, chunk: ReadChunk | None) -> str | None:
    if chunk is None or chunk.error is not None:
        return None
    if scan.identity is not None and chunk.identity is not None and chunk.identity != scan.identity:
        return "log rotated"
    return "log truncated" if chunk.size < scan.start else None


def _update(
    scan: Scan, chunk: ReadChunk, base: int, now: float, settings: MarkerSettings
) -> JobUpdate | None:
    job, attempt = scan.job, scan.job.current
    assert attempt is not None and job.id is not None
    data = chunk.data[scan.start - base :]
    end = data.rfind(b"\n") + 1
    finished = scan.final and base + len(chunk.data) >= chunk.size
    if finished or (not end and len(chunk.data) >= settings.max_bytes):
        end = len(data)  # the last line of a finished log, or a line longer than a whole read
    patterns = [re.compile(pattern) for pattern in job.spec.markers]
    matches = [line for line in _lines(data[:end]) if any(p.search(_text(line)) for p in patterns)]
    said = (
        [("log", f"{scan.restarted}: {scan.path}; markers are scanned from its start")]
        if scan.restarted
        else []
    )
    said += [
        ("marker", f"log: {_shown(line, settings.max_chars)}") for line in matches[: settings.max_events]
    ]
    if len(matches) > settings.max_events:
        said.append(("marker", f"… {len(matches) - settings.max_events:,} more marker lines"))
    events = tuple(Event(now, kind, message, job=job.key, attempt=attempt.number) for kind, message in said)
    offset = LogOffset(attempt.number, STREAM, scan.path, scan.start + end, chunk.identity)
    if not events and offset == scan.stored:
        return None
    return JobUpdate(job.id, job.state, job.reason, job.exit_code, events=events, log_offsets=(offset,))


def _lines(block: bytes) -> list[bytes]:
    """Lines split at newlines only: a carriage return (a progress bar) stays inside its line."""
    lines = block.split(b"\n")
    return lines[:-1] if block.endswith(b"\n") or not block else lines


def _text(line: bytes) -> str:
    return line.rstrip(b"\r").decode("utf-8", "replace")


def _shown(line: bytes, max_chars: int) -> str:
    text = display_text(line)
    return text if len(text) <= max_chars else text[:max_chars] + "…"
