"""Queue entries as table rows: the columns "My jobs" can show, one row per job or array task and
one collapsible row per array. Pure (no Textual): tui.queue_row_cache keeps them between refreshes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress, count
from operator import is_not, itemgetter
from typing import Any, Literal

from monitor.aggregate import aggregate_state
from monitor.queue import QueueEntry
from monitor.states import TERMINAL, State
from tui.job_rows import STATE_ICONS, STATE_STYLES
from tui.text_table import duration
from tui.widgets.table_model import Column, TableRow

Cell = Callable[[QueueEntry, float], str]
SortKey = Callable[[QueueEntry, float], Any]


def size_text(size: int | None) -> str:
    """Bytes as people read them: 512K, 3.2G."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            return f"{value:.0f}{unit}" if value >= 10 or unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def seconds_text(seconds: float | None) -> str:
    return "" if seconds is None else duration(int(seconds))


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class QueueColumn:
    """A column of the queue table: its header and width, its text, and what it sorts by."""

    key: str
    label: str
    width: int
    cell: Cell
    sort: SortKey | None = None  # None: by the text
    align: Literal["left", "right"] = "left"
    clock: bool = False  # follows the clock while the job runs

    @property
    def column(self) -> Column:
        return Column(self.key, self.label, self.width, self.align)


def _exit(entry: QueueEntry) -> str:
    if entry.signal:
        return f"sig {entry.signal}"
    return _count(entry.exit_code)


QUEUE_COLUMNS = (
    QueueColumn("name", "NAME", 20, lambda e, _: e.name),
    QueueColumn("state", "STATE", 10, lambda e, _: e.state.value),
    QueueColumn("job_id", "JOB ID", 11, lambda e, _: e.job_id),
    QueueColumn("cluster", "CLUSTER", 8, lambda e, _: e.cluster),
    QueueColumn("session", "SESSION", 10, lambda e, _: e.session or ""),
    QueueColumn("partition", "PARTITION", 9, lambda e, _: e.partition or ""),
    QueueColumn("nodes", "NODES", 10, lambda e, _: e.nodes or _count(e.node_count)),
    QueueColumn("cpus", "CPUS", 4, lambda e, _: _count(e.cpus), lambda e, _: e.cpus, "right"),
    QueueColumn("gpus", "GPUS", 4, lambda e, _: _count(e.gpus), lambda e, _: e.gpus, "right"),
    QueueColumn(
        "time_limit", "LIMIT", 9, lambda e, _: seconds_text(e.time_limit), lambda e, _: e.time_limit, "right"
    ),
    QueueColumn(
        "time_left", "LEFT", 8, lambda e, t: seconds_text(e.time_left_at(t)), lambda e, t: e.time_left_at(t),
        "right", clock=True,
    ),
    QueueColumn("priority", "PRIO", 6, lambda e, _: _count(e.priority), lambda e, _: e.priority, "right"),
    QueueColumn("reason", "REASON", 16, lambda e, _: e.reason or ""),
    QueueColumn(
        "elapsed", "ELAPSED", 8, lambda e, t: seconds_text(e.elapsed_at(t)), lambda e, t: e.elapsed_at(t),
        "right", clock=True,
    ),
    QueueColumn(
        "cpu_efficiency", "CPU%", 5,
        lambda e, _: "" if e.cpu_efficiency is None else f"{e.cpu_efficiency * 100:.0f}%",
        lambda e, _: e.cpu_efficiency, "right",
    ),
    QueueColumn("max_rss", "MAXRSS", 6, lambda e, _: size_text(e.max_rss), lambda e, _: e.max_rss, "right"),
    QueueColumn("req_mem", "MEM", 6, lambda e, _: size_text(e.req_mem), lambda e, _: e.req_mem, "right"),
    QueueColumn("exit_code", "EXIT", 6, lambda e, _: _exit(e), lambda e, _: e.exit_code, "right"),
)  # fmt: skip

BY_KEY = {column.key: column for column in QUEUE_COLUMNS}
DEFAULT_COLUMNS = (
    "name",
    "state",
    "job_id",
    "cluster",
    "session",
    "partition",
    "elapsed",
    "time_left",
    "reason",
)


def chosen_columns(keys: Sequence[str]) -> tuple[tuple[QueueColumn, ...], list[str]]:
    """The columns the config names, in its order (the default set when it names none), and the
    names it gave that are no column."""
    unknown = [k for k in keys if k not in BY_KEY]
    known = [BY_KEY[k] for k in dict.fromkeys(keys) if k in BY_KEY]
    return tuple(known or (BY_KEY[k] for k in DEFAULT_COLUMNS)), unknown


PER_TASK = frozenset({"elapsed", "time_left", "exit_code", "cpu_efficiency", "max_rss", "nodes"})
"""Facts of one task each, left blank on an array's row."""


def in_shown_order(entries: Sequence[QueueEntry]) -> tuple[QueueEntry, ...]:
    """Jobs still going first, in the scheduler's order, then finished ones, the latest first: what
    a user looks for is on the first screen. An array's tasks stay together, going while one is."""
    groups = [(e.cluster, e.array_id or e.job_id) for e in entries]
    done = [e.state in TERMINAL for e in entries]
    going = {g for g, d in zip(groups, done, strict=True) if not d}
    ended: dict[tuple[str, str], float] = {}
    rest: list[tuple[tuple[str, str], QueueEntry]] = []
    first: list[QueueEntry] = []
    for g, entry in zip(groups, entries, strict=True):
        if g in going:
            first.append(entry)
            continue
        rest.append((g, entry))
        end = entry.end_time or 0.0
        if end > ended.get(g, 0.0):
            ended[g] = end
    rest.sort(key=lambda pair: -ended.get(pair[0], 0.0))
    return (*first, *(entry for _, entry in rest))


class ShownOrder:
    """in_shown_order, remembered between refreshes: when every entry that is a new object keeps
    its job, its array and whether (and when) it ended, the order is the last one, applied to the
    new entries without sorting again (a refresh that changed 1% of 10,000 entries)."""

    def __init__(self) -> None:
        self._last: tuple[QueueEntry, ...] = ()
        self._places: list[int] = []  # the index in the given entries of each shown one

    def order(self, entries: Sequence[QueueEntry]) -> tuple[QueueEntry, ...]:
        entries, last = tuple(entries), self._last
        self._last = entries
        if len(entries) == len(last) > 1:
            # the places where the entry is another object, found in C
            changed = compress(count(), map(is_not, entries, last))
            if all(_same_place(entries[i], last[i]) for i in changed):
                shown: tuple[QueueEntry, ...] = itemgetter(*self._places)(entries)
                return shown
        shown = in_shown_order(entries)
        where = {id(entry): i for i, entry in enumerate(entries)}
        self._places = [where[id(entry)] for entry in shown]
        return shown


def _same_place(new: QueueEntry, old: QueueEntry) -> bool:
    """Whether `new` sorts where `old` did: the same job, array and end (in_shown_order's keys)."""
    return (
        new.key == old.key
        and new.array_id == old.array_id
        and new.finished == old.finished
        and (not new.finished or new.end_time == old.end_time)
    )


def array_key(entry: QueueEntry) -> str | None:
    """The group row an array task folds under; None for a plain job."""
    return None if entry.array_id is None else f"{entry.cluster}/{entry.array_id}[]"


def entry_row(entry: QueueEntry, columns: Sequence[QueueColumn], now: float) -> TableRow:
    cells = tuple(c.cell(entry, now) for c in columns)
    sort_keys = tuple(c.cell(entry, now) if c.sort is None else c.sort(entry, now) for c in columns)
    return TableRow(
        entry.key,
        cells,
        STATE_STYLES[entry.state],
        array_key(entry),
        sort_keys,
        f"{entry.name} {entry.job_id} {entry.state.value} {entry.reason or ''} {entry.session or ''} "
        f"{entry.partition or ''} {entry.cluster}",
    )


def array_row(key: str, tasks: Sequence[QueueEntry], columns: Sequence[QueueColumn], now: float) -> TableRow:
    """An array's row: its first task's facts, the array's ID, its aggregate state, and a count of
    its tasks in each state in place of the reason."""
    first = tasks[0]
    whole = aggregate_state(t.state for t in tasks)
    counts = Counter(t.state for t in tasks)
    summary = " ".join(
        f"{STATE_ICONS[s]}{n}" for s, n in sorted(counts.items(), key=lambda kv: list(State).index(kv[0]))
    )
    special = {"state": whole.value, "job_id": f"{first.array_id}[{len(tasks)}]", "reason": summary}
    cells = tuple(special.get(c.key) or ("" if c.key in PER_TASK else c.cell(first, now)) for c in columns)
    sort_keys = tuple(
        text if c.sort is None or c.key in special else (None if c.key in PER_TASK else c.sort(first, now))
        for c, text in zip(columns, cells, strict=True)
    )
    return TableRow(key, cells, STATE_STYLES[whole], None, sort_keys, f"{first.name} {whole.value} {summary}")
