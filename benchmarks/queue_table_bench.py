"""Figures for "My jobs" at 10,000 entries (issue 15): the real app opened on an empty database with a
feed of 10,000 fixed queue entries (a tenth of them tasks of 10-task arrays), then refreshes where 1%
of the entries are new objects, as a lister hands them out when those jobs changed.

Run: .venv/bin/python benchmarks/queue_table_bench.py   (prints medians with the targets beside them)
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "screenshots"))
import queue_fixture

from monitor.queue import QueueEntry
from monitor.states import State
from tui.queue_source import QueueSnapshot
from tui.screens.queue_screen import QueueScreen
from tui.widgets.job_table import JobTable

ENTRIES = 10_000
SIZE = (150, 40)
RUNS = 7
NOW = queue_fixture.NOW
STATES = (
    (State.RUNNING, "RUNNING"),
    (State.QUEUED, "PENDING"),
    (State.SUCCEEDED, "COMPLETED"),
    (State.FAILED, "FAILED"),
)


def entry(i: int, turn: int = 0) -> QueueEntry:
    state, word = STATES[(i + turn) % 4]
    array = i % 10 == 0 or i % 10 == 1 if i < ENTRIES // 5 else False
    started = NOW - 60 - i % 7200 if state is not State.QUEUED else None
    return QueueEntry(
        cluster="lab" if i % 3 else "gpu",
        job_id=f"{100_000 + i // 10}_{i % 10}" if array else str(200_000 + i),
        name=f"sweep-lr{i % 97}-seed{i}",
        state=state,
        scheduler_state=word,
        reason="Priority" if state is State.QUEUED else None,
        exit_code=None if state in (State.RUNNING, State.QUEUED) else (0 if state is State.SUCCEEDED else 1),
        array_id=str(100_000 + i // 10) if array else None,
        task=i % 10 if array else None,
        partition=("cpu", "gpu", "long")[i % 3],
        cpus=4,
        time_limit=4 * 3600.0,
        start_time=started,
        elapsed=600.0 if state in (State.SUCCEEDED, State.FAILED) else None,
        priority=1000 + i % 500,
        req_mem=8 * 1024**3,
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


async def open_and_paint(entries: tuple[QueueEntry, ...], folder: Path, run: int) -> float:
    feed = queue_fixture.FixedFeed(entries)
    start = time.perf_counter()
    app = queue_fixture.make_queue_app(folder / f"empty-{run}.db", feed=feed)
    async with app.run_test(size=SIZE) as pilot:
        while not (isinstance(app.screen, QueueScreen) and app.screen.query_one(JobTable).row_count_visible):
            await asyncio.sleep(0.005)
        await pilot.pause()
        return time.perf_counter() - start


async def refresh_figures(entries: tuple[QueueEntry, ...], folder: Path) -> dict[str, list[float]]:
    feed = queue_fixture.FixedFeed(entries)
    app = queue_fixture.make_queue_app(folder / "refresh.db", feed=feed)
    figures: dict[str, list[float]] = {"update": [], "rows": [], "clock": []}
    async with app.run_test(size=SIZE) as pilot:
        while not (isinstance(app.screen, QueueScreen) and app.screen.query_one(JobTable).row_count_visible):
            await asyncio.sleep(0.005)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        table = screen.query_one(JobTable)
        current = list(entries)

        def render_screen() -> None:
            for y in range(table.size.height):
                table.render_line(y)

        for run in range(RUNS * 3):
            step = ENTRIES // 100
            for i in range(run % step, ENTRIES, step):  # 1% of the jobs changed state
                current[i] = entry(i, run + 1)
            snapshot = QueueSnapshot(tuple(current), {}, {}, NOW)
            start = time.perf_counter()
            screen._show(snapshot)
            render_screen()
            figures["update"].append(time.perf_counter() - start)
            start = time.perf_counter()
            screen.row_cache.rows(snapshot.entries, NOW)
            figures["rows"].append(time.perf_counter() - start)
            await pilot.pause()
        clock = app.clock
        for run in range(RUNS):  # the clock moved a second: every running job's ELAPSED and LEFT
            app.clock = lambda run=run: NOW + 1 + run  # type: ignore[method-assign]
            start = time.perf_counter()
            screen.redraw()
            render_screen()
            figures["clock"].append(time.perf_counter() - start)
            await pilot.pause()
        app.clock = clock  # type: ignore[method-assign]
    return figures


async def main() -> None:
    print(
        f"machine  {platform.node()}  cpus={os.cpu_count()}  load {os.getloadavg()[0]:.2f}  {platform.platform()}"
    )
    entries = tuple(entry(i) for i in range(ENTRIES))
    running = sum(1 for e in entries if e.state is State.RUNNING)
    print(f"queue    {ENTRIES:,} entries ({running:,} running), terminal {SIZE[0]}x{SIZE[1]}, medians\n")
    with tempfile.TemporaryDirectory(prefix="jobdeck-queue-bench-") as folder:
        paints = [await open_and_paint(entries, Path(folder), run) for run in range(RUNS)]
        figures = await refresh_figures(entries, Path(folder))
    lines = [
        ("(a) open the app on My jobs + paint 10,000 entries", statistics.median(paints), 1.0),
        (
            "(b) a refresh with 1% new entries (rows + diff + paint)",
            statistics.median(figures["update"]),
            0.030,
        ),
    ]
    for label, value, target in lines:
        verdict = "ok" if value < target else "OVER"
        print(f"{label:<58} {ms(value)}   target < {ms(target).strip():>9}  {verdict}")
    print("\nfor scale (no target):")
    print(f"    {'the rows alone, nothing new (row cache)':<54} {ms(statistics.median(figures['rows']))}")
    print(
        f"    {'the clock moved 1 s: every running row again':<54} {ms(statistics.median(figures['clock']))}"
    )
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
