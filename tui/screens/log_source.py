"""What a log screen shows: a job's attempts, their log paths, and how to read and remember them.

The app builds one from the store and the job's backend; the screen never imports either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from monitor.log_tail import ReadBytes, ReadChunkOf

STREAMS = ("stdout", "stderr")


@dataclass(frozen=True, slots=True)
class LogAttempt:
    number: int
    job_id: str | None  # the scheduler's ID, None before it was submitted
    stdout: str | None  # resolved log paths; stderr None when it goes to stdout
    stderr: str | None

    def path(self, stream: str) -> str | None:
        return self.stdout if stream == "stdout" else self.stderr


@dataclass(frozen=True, slots=True)
class LogSource:
    title: str  # the job, e.g. "train[3] (session sweep)"
    attempts: list[LogAttempt]  # oldest first: the current attempt is last
    read: ReadBytes  # Backend.read_bytes of the job's cluster
    save_offset: Callable[[int, str, str, int], Awaitable[None]] | None = (
        None  # (attempt, stream, path, offset)
    )
    load_offset: Callable[[int, str], Awaitable[int | None]] | None = None  # (attempt, stream) -> offset
    read_chunk: ReadChunkOf | None = None  # used instead of `read` when given: also notices a replaced file
