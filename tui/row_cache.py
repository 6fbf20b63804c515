"""Table rows kept between refreshes of the jobs screen, so a poll that changed 1% of 10,000 jobs
rebuilds about 1% of the rows.

The store hands out the same Job object again for a job that did not change. When the session's
jobs come back in the same order under the same keys (a poll's usual result), only the rows of the
jobs that are new objects are rebuilt, with the group rows of their arrays; a running job's row
only gets its ELAPSED cell again when the clock moved it by a second. Anything else (jobs added,
finished jobs shown or hidden, other warnings) lays the rows out again, still reusing the row of
every job object it already knows. A fresh cache builds every row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from monitor.model import Job
from monitor.states import TERMINAL
from tui.job_rows import COLUMNS, group_key, group_row, job_key, job_row
from tui.text_table import duration, running_since
from tui.widgets.table_model import TableRow

_ELAPSED = next(i for i, column in enumerate(COLUMNS) if column.key == "elapsed")


class _Kept:
    """One job's row and what it was built from."""

    __slots__ = ("group", "job", "key", "place", "row", "seconds", "since", "warning")

    def __init__(self, job: Job, key: str, warning: str | None, now: float, place: int = 0) -> None:
        self.job = job
        self.key = key
        self.group = None if job.task is None else group_key(job)
        self.place = place  # the index among its array's tasks
        self.warning = warning
        self.row = job_row(job, key, now, self.group, warning)
        self.since = running_since(job)
        self.seconds = 0 if self.since is None else int(now - self.since)

    def row_at(self, now: float) -> TableRow:
        """The row, with a running job's ELAPSED brought to `now` (a new row only if it moved)."""
        row = self.row
        if self.since is not None and (seconds := int(now - self.since)) != self.seconds:
            self.seconds = seconds
            cells = (*row.cells[:_ELAPSED], duration(seconds), *row.cells[_ELAPSED + 1 :])
            row = self.row = TableRow(row.key, cells, row.style, row.parent, row.sort_keys, row.search_text)
        return row


class RowCache:
    """The rows of the last refresh by job; also the jobs by row key and each array's tasks."""

    def __init__(self) -> None:
        self._kept: list[_Kept] = []  # one per job, in the order given
        self._slots: list[int] = []  # each job's index in _rows, -1 while hidden
        self._rows: list[TableRow] = []
        self._group_slots: dict[str, int] = {}  # each shown array's index in _rows
        self._running: set[int] = set()  # the shown jobs whose ELAPSED follows the clock
        self._view: tuple[bool, dict[str, str]] | None = None
        self.by_key: dict[str, Job] = {}
        self.groups: dict[str, list[Job]] = {}

    def rows(
        self,
        jobs: Sequence[Job],
        now: float | None = None,
        show_finished: bool = True,
        warnings: Mapping[str, str] | None = None,
    ) -> list[TableRow]:
        """Rows in manifest order; an array's tasks follow its group row. With show_finished off,
        settled jobs (and arrays whose every task settled) are left out. A job's health warning
        (stuck, stalled, unknown to the scheduler), by job key, takes the place of its reason."""
        now = time.time() if now is None else now
        view = (show_finished, dict(warnings or {}))
        if view != self._view or len(jobs) != len(self._kept) or not self._patch(jobs, now, show_finished):
            self._lay_out(jobs, now, show_finished, view[1])
            self._view = view
        rows, kept, slots = self._rows, self._kept, self._slots
        for i in self._running:
            rows[slots[i]] = kept[i].row_at(now)
        return list(rows)

    def _patch(self, jobs: Sequence[Job], now: float, show_finished: bool) -> bool:
        """Rebuild the rows of the jobs that are new objects in place; False (nothing done) when
        one of them has another key or was shown and is now hidden, or the other way round."""
        kept = self._kept
        changed = [i for i, (entry, new) in enumerate(zip(kept, jobs, strict=True)) if entry.job is not new]
        for i in changed:
            old, new = kept[i].job, jobs[i]
            if job_key(new) != kept[i].key:
                return False
            if not show_finished and (old.state in TERMINAL) != (new.state in TERMINAL):
                return False
        if not changed:
            return True
        rows, slots, running = self._rows, self._slots, self._running
        self.by_key = dict(self.by_key)  # the dicts and lists handed out stay as they were
        groups = self.groups = dict(self.groups)
        touched: set[str] = set()
        for i in changed:
            before = kept[i]
            entry = kept[i] = _Kept(jobs[i], before.key, before.warning, now, before.place)
            self.by_key[entry.key] = entry.job
            if slots[i] >= 0:
                rows[slots[i]] = entry.row
                if entry.since is None:
                    running.discard(i)
                else:
                    running.add(i)
            if entry.group is not None:
                if entry.group not in touched:
                    touched.add(entry.group)
                    groups[entry.group] = list(groups[entry.group])
                groups[entry.group][entry.place] = entry.job
        for group in touched:
            if group in self._group_slots:
                rows[self._group_slots[group]] = group_row(group, groups[group])
        return True

    def _lay_out(
        self, jobs: Sequence[Job], now: float, show_finished: bool, warnings: dict[str, str]
    ) -> None:
        """Every row again, reusing the rows of job objects already known (with the same warning)."""
        known = {id(entry.job): entry for entry in self._kept}
        kept: list[_Kept] = []
        groups: dict[str, list[Job]] = {}
        for job in jobs:
            entry = known.get(id(job))
            if entry is None or entry.job is not job:
                key = job_key(job)
                entry = _Kept(job, key, warnings.get(key), now)
            elif warnings.get(entry.key) != entry.warning:
                entry = _Kept(job, entry.key, warnings.get(entry.key), now)
            kept.append(entry)
            if entry.group is not None:
                tasks = groups.setdefault(entry.group, [])
                entry.place = len(tasks)
                tasks.append(job)
        rows: list[TableRow] = []
        slots: list[int] = []
        group_slots: dict[str, int] = {}
        for entry in kept:
            if not show_finished and entry.job.state in TERMINAL:
                slots.append(-1)
                continue
            group = entry.group
            if group is not None and group not in group_slots:
                group_slots[group] = len(rows)
                rows.append(self._group_row(group, groups[group]))
            slots.append(len(rows))
            rows.append(entry.row)
        self._kept, self._slots, self._rows = kept, slots, rows
        self._group_slots = group_slots
        self._running = {i for i, entry in enumerate(kept) if entry.since is not None and slots[i] >= 0}
        self.by_key = {entry.key: entry.job for entry in kept}
        self.groups = groups

    def _group_row(self, key: str, tasks: list[Job]) -> TableRow:
        """The shown group row while every task is the same job object, else a new one."""
        before = self.groups.get(key, [])
        same = len(before) == len(tasks) and all(a is b for a, b in zip(before, tasks, strict=True))
        return (
            self._rows[self._group_slots[key]] if same and key in self._group_slots else group_row(key, tasks)
        )
