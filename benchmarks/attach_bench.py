"""The app over a stored session of 10,000 jobs (issue 8): attach and paint, one poll's result with
1% of the jobs changed, and the memory. Medians; no targets are asserted.

Run: .venv/bin/python benchmarks/attach_bench.py [--runs 5] [--jobs 10000]
The session is built as tui_bench.py builds it (plain jobs on the local backend, submitted through
the store, settled into a mix of states); this script reuses its helpers and adds the 10,000-job
figures it lacks:
  (a) start of the app to its jobs table holding every row, painted once (polling off), each run
      in a fresh process as a real start is (imports not counted)
  (b) the screen's own refresh after a poll wrote 1% of the jobs (JobsScreen.reload: store.jobs,
      the screen's RowCache.rows, JobTable.update_rows, the detail pane), with its parts measured apart
  (c) the resident memory of a fresh process with the 10,000-job table painted
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tui_bench import SESSION, SIZE, build, machine, ms, open_and_paint, painted

from monitor.model import JobUpdate
from monitor.states import State
from store.session_store import SessionStore
from tui.app import JobdeckApp
from tui.launch import spare_the_collector
from tui.screens.jobs_screen import JobsScreen
from tui.widgets.job_table import JobTable

FLIP = {State.RUNNING: State.SUCCEEDED, State.SUCCEEDED: State.RUNNING}


async def one_percent_polls(db: Path, jobs: int, runs: int) -> dict[str, list[float]]:
    """In a running app: a poll writes 1% of the jobs (through the app's store, as the app's own
    poll does), then the screen refreshes; the same refresh's parts are then timed one by one.
    Those refreshes follow each other within a second; the same refresh is then timed once more
    a second on, as between real polls, when every running job's ELAPSED has moved."""
    figures: dict[str, list[float]] = {
        "reload": [], "store.jobs": [], "rows": [], "update_rows": [], "reload, 1 s on": []
    }  # fmt: skip
    spare_the_collector()  # as `jobdeck` does at start-up
    app = JobdeckApp(db, SESSION, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await painted(app, pilot, jobs)
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        store: SessionStore = app.store
        table = screen.query_one(JobTable)
        for run in range(runs + 1):  # the first round warms up and is not counted
            current = await store.jobs(SESSION)
            changed = current[run % 100 :: 100]
            updates = [JobUpdate(j.id, FLIP.get(j.state, State.RUNNING), None, None) for j in changed]  # type: ignore[arg-type]
            await store.apply_updates(updates, time.time())
            started = time.perf_counter()
            await screen.reload()
            reload = time.perf_counter() - started
            await store.apply_updates(
                [JobUpdate(j.id, j.state, None, None) for j in changed],  # type: ignore[arg-type]
                time.time(),
            )
            t0 = time.perf_counter()
            current = await store.jobs(SESSION)
            t1 = time.perf_counter()
            rows = screen.row_cache.rows(current, time.time(), screen.show_finished, screen.job_warnings)
            t2 = time.perf_counter()
            table.update_rows(rows)
            t3 = time.perf_counter()
            if run:
                figures["reload"].append(reload)
                figures["store.jobs"].append(t1 - t0)
                figures["rows"].append(t2 - t1)
                figures["update_rows"].append(t3 - t2)
            await pilot.pause()
            await asyncio.sleep(1.0)
            await store.apply_updates(updates, time.time())
            started = time.perf_counter()
            await screen.reload()
            if run:
                figures["reload, 1 s on"].append(time.perf_counter() - started)
            await store.apply_updates(
                [JobUpdate(j.id, j.state, None, None) for j in changed],  # type: ignore[arg-type]
                time.time(),
            )
            await screen.reload()
            await pilot.pause()
    return figures


def attach_in_a_fresh_process(db: Path, jobs: int) -> float:
    """(a) in a process of its own: in one process, Textual's run_test leaves earlier apps (and their
    10,000 jobs) reachable, and every later start would pay for walking them."""
    out = subprocess.run(
        [sys.executable, __file__, "--jobs", str(jobs), "--attach-once", str(db)],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    return float(out)


def rss_of_painted_app(db: Path, jobs: int) -> tuple[int, int]:
    """tui_bench's --rss mode in a fresh process: KiB before the app and with the table painted."""
    script = Path(__file__).with_name("tui_bench.py")
    out = subprocess.run(
        [sys.executable, str(script), "--rss", str(db), str(jobs)],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout.split()  # fmt: skip
    return int(out[0]), int(out[1])


async def main(runs: int, jobs: int) -> None:
    print(machine())
    print(f"terminal {SIZE[0]}x{SIZE[1]}, {jobs:,} plain jobs on the local backend, medians of {runs} runs\n")
    with tempfile.TemporaryDirectory(prefix="jobdeck-attach-bench-") as tmp:
        started = time.perf_counter()
        db = await build(Path(tmp), jobs)
        print(f"built the session in {time.perf_counter() - started:.1f} s\n")
        times = [attach_in_a_fresh_process(db, jobs) for _ in range(runs)]
        print(f"(a) attach: start to the first painted table   {ms(statistics.median(times))}"
              f"   (min {ms(min(times)).strip()}, max {ms(max(times)).strip()})   target < 1 s")  # fmt: skip
        figures = await one_percent_polls(db, jobs, runs)
        print(f"(b) 1% of the jobs changed: the screen's refresh {ms(statistics.median(figures['reload']))}"
              "   target < 30 ms")  # fmt: skip
        for name in ("store.jobs", "rows", "update_rows"):
            print(f"      of which {name:<12}                  {ms(statistics.median(figures[name]))}")
        print(
            f"    the same, 1 s on (2 jobs in 5 run: ELAPSED moved) {ms(statistics.median(figures['reload, 1 s on']))}"
        )
        before, after = rss_of_painted_app(db, jobs)
        print(f"(c) RSS with {jobs:,} jobs painted               {after / 1024:9.1f} MiB   target < 150 MiB"
              f"   (before the app {before / 1024:.1f} MiB)")  # fmt: skip
    print(f"\nload average after: {' '.join(f'{n:.2f}' for n in os.getloadavg())} ({os.cpu_count()} cpus)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument(
        "--attach-once", type=Path, metavar="DB", help="print one (a) figure for DB, in seconds"
    )
    arguments = parser.parse_args()
    if arguments.attach_once:
        print(asyncio.run(open_and_paint(arguments.attach_once, arguments.jobs)))
    else:
        asyncio.run(main(arguments.runs, arguments.jobs))
