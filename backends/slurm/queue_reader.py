"""Successive `squeue --me` answers, each read against the one before (the idea of squeue_reader.py
for the whole queue). squeue prints no running clock and keeps its order, so between two answers
most lines are the same bytes at the same place: an unchanged answer is one comparison of bytes and
gives the same tuple; an answer of as many lines is compared with the last one place by place (in
C), and only the lines that changed are parsed (or taken from the last answer's lines that left: a
hold and its release bring a line back). Every other answer is read line by line against the lines
of the last two answers. Either way an unchanged job is the same QueueEntry object."""

from __future__ import annotations

from itertools import chain, compress, count
from operator import ne

from backends.slurm.queue_parse import queue_line
from monitor.queue import QueueEntry

_Entries = tuple[QueueEntry, ...]


class QueueReader:
    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.same_jobs = False  # the last read listed the same job IDs, in the same places
        self._data: bytes | None = None
        self._order: list[bytes] = []  # the last answer's lines
        self._per_line: list[_Entries] = []  # and what each says
        self._before: dict[bytes, _Entries] = {}  # the lines that left at the last read
        self._entries: _Entries = ()
        self._exact = False  # no job was shown by two lines

    def read(self, data: bytes) -> _Entries:
        """The entries of `data` in squeue's order, one per job ID (the last line of a job wins).
        Lines end at a newline only: a name may hold any other control character."""
        if data == self._data:
            self.same_jobs = True
            return self._entries
        lines = data.split(b"\n")
        if not (self._exact and len(lines) == len(self._order) and self._changed(lines)):
            self._read_all(lines)
        self._data, self._order = data, lines
        return self._entries

    def _changed(self, lines: list[bytes]) -> bool:
        """Parse only the places whose line changed; False (read it all) when a job moved."""
        old, per_line, before = self._order, self._per_line[:], self._before
        places = list(compress(count(), map(ne, lines, old)))
        left: dict[bytes, _Entries] = {}
        for i in places:
            was = per_line[i]
            left[old[i]] = was
            now = before.get(lines[i])
            if now is None:
                now = queue_line(self.cluster, lines[i])
            if [e.job_id for e in now] != [e.job_id for e in was]:
                return False
            per_line[i] = now
        self._per_line, self._before, self.same_jobs = per_line, left, True
        self._entries = tuple(chain.from_iterable(per_line))
        return True

    def _read_all(self, lines: list[bytes]) -> None:
        last = dict(zip(self._order, self._per_line, strict=True))
        known = {**self._before, **last}
        per_line = [known.get(key) or queue_line(self.cluster, key) for key in lines]
        current = set(lines)
        self._before = {key: entries for key, entries in last.items() if key not in current}
        by_id = {entry.job_id: entry for entry in chain.from_iterable(per_line)}
        flat = tuple(chain.from_iterable(per_line))
        self._exact = len(by_id) == len(flat)
        self._entries = flat if self._exact else tuple(by_id.values())
        self._per_line, self.same_jobs = per_line, False
