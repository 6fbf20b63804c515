"""Figures for the virtual job table at 10,000 rows (issue 8): paint, 1% update, page render, filter.

Run: .venv/bin/python benchmarks/table_bench.py   (prints medians with the targets beside them)
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from collections.abc import Callable
from importlib.metadata import version

from textual.app import App, ComposeResult

from tui.widgets.job_table import JobTable
from tui.widgets.table_model import Column, TableRow

ROWS = 10_000
SIZE = (120, 40)
RUNS = 7
COLUMNS = (
    Column("name", "Name", 24),
    Column("state", "State", 10),
    Column("reason", "Reason", 14),
    Column("elapsed", "Elapsed", 9, align="right"),
    Column("id", "Job ID", 9, align="right"),
)
STATES = ("RUNNING", "QUEUED", "FAILED", "SUCCEEDED")


def make_row(i: int, state: str) -> TableRow:
    return TableRow(
        f"job{i}",
        (
            f"sweep-lr{i % 97}-seed{i}",
            state,
            "TIMEOUT" if state == "FAILED" else "",
            f"{i % 60}:{i % 59:02d}",
            str(i),
        ),
        style="red" if state == "FAILED" else "green",
        sort_keys=(f"sweep-lr{i % 97}-seed{i}", state, "", i % 3600, i),
    )


def initial_rows() -> list[TableRow]:
    return [make_row(i, STATES[i % 4]) for i in range(ROWS)]


class Host(App[None]):
    def __init__(self, rows: list[TableRow]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield JobTable(COLUMNS)

    def on_mount(self) -> None:
        self.query_one(JobTable).update_rows(self.rows)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


async def mount_and_paint() -> float:
    rows = initial_rows()
    start = time.perf_counter()
    app = Host(rows)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        elapsed = time.perf_counter() - start
        assert app.query_one(JobTable).row_count_visible == ROWS
    return elapsed


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


async def interactive_figures() -> dict[str, list[float]]:
    rows = initial_rows()
    app = Host(rows)
    figures: dict[str, list[float]] = {
        name: [] for name in ("update", "update_sorted", "pause_after_update", "pause_idle", "page", "filter")
    }
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(JobTable)
        table.focus()
        height = table.size.height

        def render_screen() -> None:
            for y in range(height):
                table.render_line(y)

        for run in range(RUNS * 6):
            sorted_by_state = run >= RUNS * 3  # the second half re-sorts at every update
            if run == RUNS * 3:
                table.sort_by("state")
                await pilot.pause()
            step = ROWS // 100
            for i in range(run % step, ROWS, step):  # 1% of the rows change state
                rows[i] = make_row(i, STATES[(STATES.index(rows[i].cells[1]) + 1) % 4])
            start = time.perf_counter()
            diff = table.update_rows(list(rows))
            render_screen()
            figures["update_sorted" if sorted_by_state else "update"].append(time.perf_counter() - start)
            assert len(diff.changed) == ROWS // 100
            start = time.perf_counter()
            await pilot.pause()
            figures["pause_after_update"].append(time.perf_counter() - start)
            start = time.perf_counter()
            await pilot.pause()
            figures["pause_idle"].append(time.perf_counter() - start)
        table.sort_by(None)

        for _ in range(RUNS * 5):
            figures["page"].append(timed(lambda: (table.action_cursor_page_down(), render_screen())))
            await pilot.pause()

        for run in range(RUNS * 3):
            text = ("state:failed", "seed1", "reason:time name:lr3", "")[run % 4]
            figures["filter"].append(timed(lambda text=text: (table.set_filter(text), render_screen())))
            await pilot.pause()
    return figures


async def main() -> None:
    print(f"machine  {platform.node()}  cpus={os.cpu_count()}  {platform.platform()}")
    print(f"python   {platform.python_version()}  textual {version('textual')}  rich {version('rich')}")
    print(f"table    {ROWS:,} rows x {len(COLUMNS)} columns, terminal {SIZE[0]}x{SIZE[1]}, medians\n")
    paints = [await mount_and_paint() for _ in range(RUNS)]
    figures = await interactive_figures()
    lines = [
        ("(a) mount + paint 10,000 rows (run_test + pause)", statistics.median(paints), 1.0),
        ("(b) 1% update (diff + repaint of a screenful)", statistics.median(figures["update"]), 0.030),
        ("    the same, sorted by the changing column", statistics.median(figures["update_sorted"]), 0.030),
        ("(c) page down + render_line for a screenful", statistics.median(figures["page"]), 0.016),
        ("(d) filter 10,000 rows + render a screenful", statistics.median(figures["filter"]), 0.016),
    ]
    for label, value, target in lines:
        verdict = "ok" if value < target else "OVER"
        print(f"{label:<52} {ms(value)}   target < {ms(target).strip():>9}  {verdict}")
    print("\nfor scale (Pilot's own idle wait included, no target):")
    for label, name in (
        ("pilot.pause after a 1% update", "pause_after_update"),
        ("pilot.pause idle", "pause_idle"),
    ):
        print(f"    {label:<48} {ms(statistics.median(figures[name]))}")


if __name__ == "__main__":
    asyncio.run(main())
