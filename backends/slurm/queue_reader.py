"""Successive `squeue --me` answers, each read against the ones before (the idea of squeue_reader.py
for the whole queue): an unchanged answer is one comparison of bytes and gives the same tuple; a
changed one is split into lines and only lines not seen in the last two answers are parsed (a hold
and its release bring a line back), so an unchanged job is the same QueueEntry object."""

from __future__ import annotations

from backends.slurm.queue_parse import queue_line
from monitor.queue import QueueEntry


class QueueReader:
    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self._data: bytes | None = None
        self._entries: tuple[QueueEntry, ...] = ()
        self._lines: dict[bytes, tuple[QueueEntry, ...]] = {}  # the last answer's
        self._before: dict[bytes, tuple[QueueEntry, ...]] = {}  # the lines of the one before that left

    def read(self, data: bytes) -> tuple[QueueEntry, ...]:
        """The entries of `data` in squeue's order, one per job ID (the last line of a job wins)."""
        if data == self._data:
            return self._entries
        last, before, cluster = self._lines, self._before, self.cluster
        lines: dict[bytes, tuple[QueueEntry, ...]] = {}
        for key in data.split(b"\n"):  # a name may hold any other control character
            entries = last.get(key)
            if entries is None:
                entries = before.get(key)
                if entries is None:
                    entries = queue_line(cluster, key)
            lines[key] = entries
        by_id = {entry.job_id: entry for entries in lines.values() for entry in entries}
        self._before = {key: entries for key, entries in last.items() if key not in lines}
        self._data, self._lines, self._entries = data, lines, tuple(by_id.values())
        return self._entries
