"""Builds a log screen's source from a job: its attempts' paths, its cluster's readers, and the
store that remembers how far each log was read and keeps copies of logs whose pod is gone."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

from monitor.controller import Controller
from monitor.log_tail import ReadBytes, ReadChunkOf, chunk_reader
from monitor.model import Job, ReadChunk, read_range
from store.session_store import SessionStore
from tui.screens.log_source import LogAttempt, LogSource

COPY_STREAM = "stdout"  # a pod's log holds both streams


def log_source(job: Job, controller: Controller, store: SessionStore) -> LogSource:
    """The logs of a job's attempts, read through its cluster's backend, offsets kept in the store;
    a log whose pod is gone is served from the copy the store kept."""
    ids = {a.number: a.id for a in job.attempts}

    async def save(number: int, stream: str, path: str, offset: int) -> None:
        attempt_id = ids.get(number)
        if attempt_id is not None:
            await store.save_log_offset(attempt_id, stream, path, offset, None, time.time())

    async def load(number: int, stream: str) -> int | None:
        attempt_id = ids.get(number)
        found = await store.log_offset(attempt_id, stream) if attempt_id is not None else None
        return found[1] if found else None

    attempts = [LogAttempt(a.number, a.job_id, a.log_path, a.err_path) for a in job.attempts]
    copies = StoredCopies(store, {a.log_path: a.id for a in job.attempts if a.log_path and a.id is not None})
    backend = controller.backend(job.cluster)
    title = f"{job.key} on {job.cluster}"
    return LogSource(
        title,
        attempts,
        copies.read_bytes(backend.read_bytes),
        None if store.read_only else save,  # a read-only store remembers nothing
        load,
        read_chunk=copies.read_chunk(chunk_reader(backend.read_many)),
    )


class StoredCopies:
    """Readers that, once a log no longer exists (a deleted pod), serve the copy kept in the store
    under a first line that says so. The copy is a file of its own: the first read of it from a
    later offset answers "empty", so the reader starts it over from its first line."""

    def __init__(self, store: SessionStore, attempts: Mapping[str, int]) -> None:
        self.store = store
        self.attempts = attempts  # attempt row id by log path
        self._copies: dict[str, bytes] = {}

    def read_bytes(self, read: ReadBytes) -> ReadBytes:
        async def read_or_copy(path: str, offset: int, limit: int) -> tuple[bytes, int]:
            async def live() -> _Read:
                return (*await read(path, offset, limit), None)

            data, size, _ = await self._read(path, offset, live)
            return data[: max(0, limit)], size

        return read_or_copy

    def read_chunk(self, read: ReadChunkOf) -> ReadChunkOf:
        async def read_or_copy(path: str, offset: int, limit: int) -> ReadChunk:
            async def live() -> _Read:
                chunk = await read(path, offset, limit)
                return chunk.data, chunk.size, chunk.identity

            data, size, identity = await self._read(path, offset, live)
            return ReadChunk(data[: max(0, limit)], size, identity)

        return read_or_copy

    async def _read(self, path: str, offset: int, live: Callable[[], Awaitable[_Read]]) -> _Read:
        """What `live` reads, or the copy once the log is gone (all of it from `offset`: the caller cuts)."""
        if path not in self._copies:
            try:
                return await live()
            except FileNotFoundError:
                attempt_id = self.attempts.get(path)
                kept = await self.store.log_copy(attempt_id, COPY_STREAM) if attempt_id is not None else None
                if kept is None:
                    raise
            self._copies[path] = _with_notice(*kept)
            if offset > 0:
                return b"", 0, None
        copy = self._copies[path]
        start, _ = read_range(offset, len(copy), len(copy))
        return copy[start:], len(copy), None


_Read = tuple[bytes, int, str | None]  # data, the file's size, its identity


def _with_notice(data: bytes, saved_at: float) -> bytes:
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(saved_at))
    return f"--- the pod is gone: its last {lines:,} log lines, as saved at {when} ---\n".encode() + data
