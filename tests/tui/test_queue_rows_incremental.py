"""What My jobs remembers between refreshes gives what a fresh start gives: the order of the entries
(ShownOrder against in_shown_order) and the rows (a patched QueueRowCache against a new one), over
any series of refreshes where entries change state, end, leave, come, or move."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.queue import QueueEntry
from monitor.states import State
from tui.queue_row_cache import QueueRowCache
from tui.queue_rows import QUEUE_COLUMNS, ShownOrder, in_shown_order

NOW = 1_767_261_600.0
STATES = (State.QUEUED, State.RUNNING, State.SUCCEEDED, State.FAILED, State.CANCELLED)


def base(i: int) -> QueueEntry:
    array = str(100 + i // 4) if i % 3 == 0 else None  # some entries are tasks of small arrays
    return QueueEntry(
        cluster="lab",
        job_id=f"{array}_{i}" if array else str(i),
        name=f"job-{i}",
        state=State.RUNNING,
        scheduler_state="RUNNING",
        array_id=array,
        task=i if array else None,
        start_time=NOW - 100 - i,
        time_limit=3600.0,
    )


def changed(entry: QueueEntry, state: State, end: float) -> QueueEntry:
    finished = state in (State.SUCCEEDED, State.FAILED, State.CANCELLED)
    return replace(
        entry, state=state, scheduler_state=state.value, end_time=NOW - end if finished else None,
        start_time=None if state is State.QUEUED else entry.start_time,
    )  # fmt: skip


step = st.tuples(
    st.lists(st.tuples(st.integers(0, 39), st.sampled_from(STATES), st.integers(0, 3)), max_size=6),
    st.sampled_from(["keep", "drop", "add", "shuffle"]),
    st.booleans(),  # show finished jobs
    st.integers(0, 3),  # seconds the clock moved
)


@settings(max_examples=150, deadline=None)
@given(st.integers(5, 30), st.lists(step, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_a_remembered_order_and_patched_rows_are_what_a_fresh_start_gives(size, steps, rnd) -> None:
    entries = [base(i) for i in range(size)]
    order, cache, now = ShownOrder(), QueueRowCache(QUEUE_COLUMNS), NOW
    for changes, shape, show_finished, moved in steps:
        for place, state, end in changes:
            if place < len(entries):
                entries[place] = changed(entries[place], state, end)
        if shape == "drop" and len(entries) > 1:
            entries.pop(rnd.randrange(len(entries)))
        elif shape == "add":
            entries.append(base(100 + len(entries)))
        elif shape == "shuffle":
            rnd.shuffle(entries)
        now += moved
        shown = order.order(entries)
        assert shown == in_shown_order(entries)
        rows = cache.rows(shown, now, show_finished)
        fresh = QueueRowCache(QUEUE_COLUMNS)
        assert rows == fresh.rows(shown, now, show_finished)
        assert cache.by_key == fresh.by_key and cache.groups == fresh.groups
