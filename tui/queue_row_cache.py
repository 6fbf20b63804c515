"""Rows of "My jobs" kept between refreshes, so a refresh that changed 1% of 10,000 entries rebuilds
about 1% of the rows.

A lister hands out the same QueueEntry object again for a job that did not change (a frozen value:
a change is a new object), so an entry's row is rebuilt only when its entry is a new object; a
running job's row gets its clock cells (elapsed, time left) again only when the clock moved them by
a second, and an array's row only when one of its tasks changed or went away.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import is_not

from monitor.queue import QueueEntry
from tui.queue_rows import QueueColumn, array_key, array_row, entry_row
from tui.widgets.table_model import TableRow


class _Kept:
    """One entry's row and what it was built from."""

    __slots__ = ("entry", "group", "key", "place", "row", "seconds", "since", "slot")

    def __init__(self, entry: QueueEntry, columns: Sequence[QueueColumn], now: float) -> None:
        self.entry = entry
        self.slot = -1  # its index among the rows shown, -1 while hidden
        self.place = 0  # its index among its array's tasks
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
        self._group_rows: dict[str, tuple[list[QueueEntry], TableRow]] = {}  # array key -> (tasks, row)
        self.by_key: dict[str, QueueEntry] = {}
        self.groups: dict[str, list[QueueEntry]] = {}
        self._order: list[_Kept] = []  # the last refresh's entries, in order
        self._rows: list[TableRow] = []
        self._group_slots: dict[str, int] = {}  # each shown array's index in _rows
        self._running: list[_Kept] = []  # the shown entries whose clock cells follow the clock
        self._show_finished = True

    def rows(self, entries: Sequence[QueueEntry], now: float, show_finished: bool = True) -> list[TableRow]:
        """Rows in the order given; an array's row comes before its first task. With show_finished
        off, finished entries (and arrays whose every task finished) are left out."""
        if show_finished != self._show_finished or not self._patch(entries, now):
            self._lay_out(entries, now, show_finished)
        rows, columns, clock = self._rows, self.columns, self._clock
        for k in self._running:
            rows[k.slot] = k.row_at(now, columns, clock)
        return list(rows)

    def _patch(self, entries: Sequence[QueueEntry], now: float) -> bool:
        """Rebuild in place the rows of the entries that are new objects; False (nothing done) when
        one of them is another job, in another array, or shown where it was hidden or the other way."""
        order = self._order
        if len(entries) != len(order) or not order:
            return False
        changed = [i for i, (k, entry) in enumerate(zip(order, entries, strict=True)) if k.entry is not entry]
        hide = not self._show_finished
        for i in changed:
            old, new = order[i].entry, entries[i]
            if new.key != old.key or new.array_id != old.array_id or (hide and new.finished != old.finished):
                return False
        if not changed:
            return True
        rows, kept, columns = self._rows, self._kept, self.columns
        self.by_key = dict(self.by_key)  # the dicts and lists handed out stay as they were
        groups = self.groups = dict(self.groups)
        touched: set[str] = set()
        running_changed = False
        for i in changed:
            before = order[i]
            k = order[i] = _Kept(entries[i], columns, now)
            k.slot, k.place = before.slot, before.place
            del kept[id(before.entry)]
            kept[id(k.entry)] = k
            self.by_key[k.key] = k.entry
            if k.slot >= 0:
                rows[k.slot] = k.row
            running_changed = running_changed or before.since is not None or k.since is not None
            if k.group is not None:
                if k.group not in touched:
                    touched.add(k.group)
                    groups[k.group] = list(groups[k.group])
                groups[k.group][k.place] = k.entry
        for group in touched:
            tasks = groups[group]
            row = array_row(group, tasks, columns, now)
            self._group_rows[group] = (tasks, row)
            if group in self._group_slots:
                rows[self._group_slots[group]] = row
        if running_changed:
            self._running = [k for k in order if k.since is not None and k.slot >= 0]
        return True

    def _lay_out(self, entries: Sequence[QueueEntry], now: float, show_finished: bool) -> None:
        """Every row again, reusing the rows of the entries already known."""
        kept, columns = self._kept, self.columns
        fresh: dict[int, _Kept] = {}
        order: list[_Kept] = []
        groups: dict[str, list[QueueEntry]] = {}
        for entry in entries:
            k = kept.get(id(entry)) or _Kept(entry, columns, now)
            fresh[id(entry)] = k
            order.append(k)
            if k.group is not None:
                tasks = groups.setdefault(k.group, [])
                k.place = len(tasks)
                tasks.append(entry)
        rows: list[TableRow] = []
        group_rows: dict[str, tuple[list[QueueEntry], TableRow]] = {}
        group_slots: dict[str, int] = {}
        for k in order:
            k.slot = -1
            if not show_finished and k.entry.finished:
                continue
            group = k.group
            if group is not None and group not in group_rows:
                tasks = groups[group]
                before = self._group_rows.get(group)
                if before is None or len(before[0]) != len(tasks) or any(map(is_not, before[0], tasks)):
                    before = (tasks, array_row(group, tasks, columns, now))
                group_rows[group] = before
                group_slots[group] = len(rows)
                rows.append(before[1])
            k.slot = len(rows)
            rows.append(k.row)
        self._kept, self._group_rows, self._group_slots = fresh, group_rows, group_slots
        self._order, self._rows, self._show_finished = order, rows, show_finished
        self._running = [k for k in order if k.since is not None and k.slot >= 0]
        self.by_key = {k.key: k.entry for k in order}
        self.groups = groups
