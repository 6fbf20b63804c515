"""Rows of "My jobs" kept between refreshes, so a refresh that changed 1% of 10,000 entries rebuilds
about 1% of the rows.

A lister hands out the same QueueEntry object again for a job that did not change (a frozen value:
a change is a new object), so an entry's row is rebuilt only when its entry is a new object; a
running job's row gets its clock cells (elapsed, time left) again only when the clock moved them by
a second, and an array's row only when one of its tasks changed or went away.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.queue import QueueEntry
from tui.queue_rows import QueueColumn, array_key, array_row, entry_row
from tui.widgets.table_model import TableRow


class _Kept:
    """One entry's row and what it was built from."""

    __slots__ = ("entry", "group", "key", "row", "seconds", "since")

    def __init__(self, entry: QueueEntry, columns: Sequence[QueueColumn], now: float) -> None:
        self.entry = entry
        self.key = entry.key
        self.group = array_key(entry)
        self.row = entry_row(entry, columns, now)
        self.since = None if entry.finished else entry.start_time
        self.seconds = 0 if self.since is None else int(now - self.since)

    def row_at(self, now: float, columns: Sequence[QueueColumn], clock: Sequence[int]) -> TableRow:
        """The row, with a running job's clock cells brought to `now` (a new row only if they moved)."""
        row = self.row
        if self.since is None or not clock or (seconds := int(now - self.since)) == self.seconds:
            return row
        self.seconds = seconds
        cells, sort_keys = list(row.cells), list(row.sort_keys or row.cells)
        for i in clock:
            column = columns[i]
            cells[i] = column.cell(self.entry, now)
            sort_keys[i] = cells[i] if column.sort is None else column.sort(self.entry, now)
        row = self.row = row._replace(cells=tuple(cells), sort_keys=tuple(sort_keys))
        return row


class QueueRowCache:
    """The rows of the last refresh by entry key; also the entries by row key and each array's tasks."""

    def __init__(self, columns: Sequence[QueueColumn]) -> None:
        self.columns = tuple(columns)
        self._clock = [i for i, column in enumerate(self.columns) if column.clock]
        self._kept: dict[int, _Kept] = {}  # by id() of the entry, which the _Kept holds alive
        self._group_rows: dict[str, tuple[int, TableRow]] = {}  # array key -> (task count, row)
        self.by_key: dict[str, QueueEntry] = {}
        self.groups: dict[str, list[QueueEntry]] = {}

    def rows(self, entries: Sequence[QueueEntry], now: float, show_finished: bool = True) -> list[TableRow]:
        """Rows in the order given; an array's row comes before its first task. With show_finished
        off, finished entries (and arrays whose every task finished) are left out."""
        kept, columns, clock = self._kept, self.columns, self._clock
        fresh: dict[int, _Kept] = {}
        order: list[_Kept] = []
        groups: dict[str, list[QueueEntry]] = {}
        changed: set[str] = set()
        for entry in entries:
            k = kept.get(id(entry))
            if k is None:
                k = _Kept(entry, columns, now)
                if k.group is not None:
                    changed.add(k.group)
            fresh[id(entry)] = k
            order.append(k)
            if k.group is not None:
                groups.setdefault(k.group, []).append(entry)
        rows: list[TableRow] = []
        group_rows: dict[str, tuple[int, TableRow]] = {}
        for k in order:
            if not show_finished and k.entry.finished:
                continue
            group = k.group
            if group is not None and group not in group_rows:
                tasks = groups[group]
                before = self._group_rows.get(group)
                if before is None or group in changed or before[0] != len(tasks):
                    before = (len(tasks), array_row(group, tasks, columns, now))
                group_rows[group] = before
                rows.append(before[1])
            rows.append(k.row if k.since is None else k.row_at(now, columns, clock))
        self._kept, self._group_rows = fresh, group_rows
        self.by_key = {k.key: k.entry for k in order}
        self.groups = groups
        return rows
