"""One backend's successive squeue answers, each read against the one before.

Between two polls most of a queue's lines are the same bytes (squeue prints no running clock, and
keeps its order) and an Observation is immutable. So only the lines that changed are found (a
comparison of each line with the one at its place before, in C), parsed (or taken from the lines
that left in the last RECENT answers: a hold and its release bring a line back) and changed in the
answer. An unchanged queue of 10,000 tasks costs one comparison of bytes, a 1% change a split and a
comparison of lines. A change in which task raw IDs are shared, or a job shown by two lines, reads
the whole answer again. What `read` returns is what parse_squeue reads (by job ID: the last line of
a job wins).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from itertools import compress, count
from operator import ne

from backends.slurm.parse import SqueueLine, raw_id_counts
from monitor.model import Observation


class SqueueReader:
    RECENT = 4

    def __init__(self) -> None:
        self._data: bytes | None = None
        self._order: list[bytes] = []  # the last answer's lines, in order
        self._lines: dict[bytes, SqueueLine] = {}  # and what each says
        self._found: dict[str, Observation] = {}  # by job
        self._counts: Counter[str] = Counter()  # lines by task raw ID
        self._exact = False  # each job came from one line only
        self._left: dict[bytes, tuple[SqueueLine, int]] = {}  # lines that left, with the call they left at
        self._calls = 0
        self._wanted: AbstractSet[str] | None = None  # the IDs asked about at the last read
        self._outside: set[str] | None = None  # the jobs found that were not asked about

    def read(self, data: bytes, wanted: AbstractSet[str] | None = None) -> dict[str, Observation]:
        """The observations in `data` by job ID, of the jobs in `wanted` only (all when None): a
        dict of the caller's own."""
        if wanted is not self._wanted:
            self._wanted, self._outside = wanted, None
        if data != self._data:
            self._calls += 1
            lines = data.splitlines()
            changed = self._changed_lines(lines) if self._exact else None
            if changed is None or not self._change(*changed):
                self._read_all(lines)
            self._data, self._order = data, lines
            if self._calls % self.RECENT == 0:
                oldest = self._calls - self.RECENT
                self._left = {key: entry for key, entry in self._left.items() if entry[1] > oldest}
        if self._outside is None:
            self._outside = set() if wanted is None else {j for j in self._found if j not in wanted}
        if not self._outside:
            return dict(self._found)
        return {job_id: obs for job_id, obs in self._found.items() if job_id not in self._outside}

    def known_line(self, key: bytes) -> SqueueLine:
        """The line as this reader knows it, or parsed (and not kept): for parse_squeue."""
        line = self._lines.get(key)
        if line is None:
            entry = self._left.get(key)
            line = entry[0] if entry is not None else SqueueLine(key)
        return line

    def _line(self, key: bytes) -> SqueueLine:
        line = self._lines.get(key)
        if line is None:
            entry = self._left.pop(key, None)
            line = entry[0] if entry is not None else SqueueLine(key)
        return line

    def _changed_lines(self, lines: list[bytes]) -> tuple[set[bytes], set[bytes]] | None:
        """The lines that left and the lines that came since the last answer; None when that answer
        showed a line twice."""
        old, known = self._order, self._lines
        if len(old) != len(known):
            return None
        if len(lines) == len(old):  # compare each line with the one at its place
            # the places where a line differs from the last answer's, compared in C
            places = list(compress(count(), map(ne, lines, old)))
            came, left = {lines[i] for i in places}, {old[i] for i in places}
            if len(came) == len(left) == len(places):  # lines that moved cancel out
                return left - came, came - left  # a line now shown twice: see _change
        keys = dict.fromkeys(lines)
        return known.keys() - keys.keys(), keys.keys() - known.keys()

    def _change(self, left: Iterable[bytes], came: Iterable[bytes]) -> bool:
        """Take out the lines that left and put in the lines that came; False (the caller reads the
        whole answer) when a task raw ID became or stopped being shared, or two lines show one job.
        A job whose line changed keeps its place in the answer."""
        lines, found, counts, outside = self._lines, self._found, self._counts, self._outside
        before: dict[str, int] = {}  # lines by task raw ID before, where that changes
        gone: set[str] = set()  # the jobs of the lines that left
        for key in left:
            line = lines.pop(key)
            self._left[key] = (line, self._calls)
            gone.update(obs.job_id for obs in line.observations)
            if (raw_id := line.task_raw_id) is not None:
                before.setdefault(raw_id, counts[raw_id])
                counts[raw_id] -= 1
        new = {key: self._line(key) for key in came}
        lines.update(new)
        for line in new.values():
            if (raw_id := line.task_raw_id) is not None:
                before.setdefault(raw_id, counts[raw_id])
                counts[raw_id] += 1
        for raw_id, n in before.items():
            if (counts[raw_id] > 1) != (n > 1):
                return False
            if not counts[raw_id]:
                del counts[raw_id]
        wanted = self._wanted
        for line in new.values():
            for obs in line.observations_among(counts):
                job_id = obs.job_id
                if job_id in gone:
                    gone.discard(job_id)  # seen again: the same place
                elif job_id in found:
                    return False
                found[job_id] = obs
                if outside is not None and wanted is not None and job_id not in wanted:
                    outside.add(job_id)
        for job_id in gone:
            del found[job_id]
            if outside:
                outside.discard(job_id)
        return True

    def _read_all(self, keys: Iterable[bytes]) -> None:
        lines = {key: self._line(key) for key in keys}
        for key in self._lines.keys() - lines.keys():
            self._left[key] = (self._lines[key], self._calls)
        counts = raw_id_counts(lines.values())
        observations = [obs for line in lines.values() for obs in line.observations_among(counts)]
        self._lines, self._counts, self._outside = lines, counts, None
        self._found = {obs.job_id: obs for obs in observations}
        self._exact = len(self._found) == len(observations)
