"""Figures for the whole app over a stored session: start to the first painted jobs table (1,000 and
10,000 jobs), applying one poll's result to a 1,000-job table (1% of the jobs changed), and the
app's memory with 10,000 jobs. Medians over several runs; no targets are asserted.

Run: .venv/bin/python benchmarks/tui_bench.py
The sessions are real: a manifest of N plain jobs on the local backend, registered and submitted
through the session store (without starting processes), settled into a mix of states.
"""

from __future__ import annotations

import asyncio
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from textual.pilot import Pilot

from backends.registry import load_manifest
from monitor.expand import expand_manifest
from monitor.model import AttemptPatch, JobUpdate, SubmitResult
from monitor.states import State
from store.session_store import SessionStore
from tui.app import JobdeckApp
from tui.launch import spare_the_collector
from tui.row_cache import RowCache
from tui.screens.jobs_screen import JobsScreen
from tui.widgets.job_table import JobTable

SIZE = (150, 40)
RUNS = 5
UPDATE_RUNS = 15
SESSION = "bench"
STATES = (State.RUNNING, State.SUCCEEDED, State.QUEUED, State.FAILED, State.RUNNING)


def machine() -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "?",
    )  # fmt: skip
    return (
        f"machine  {platform.node()}  {model}  cpus={os.cpu_count()}  {platform.platform()}\n"
        f"python   {platform.python_version()}  textual {version('textual')}  sqlite {sqlite3.sqlite_version}"
    )


def write_manifest(folder: Path, jobs: int) -> Path:
    lines = [
        f'[session]\nname = "{SESSION}"\n\n[clusters.laptop]\nbackend = "local"\n',
        '[defaults]\ncluster = "laptop"\nscript = "run.sh"\nlog = "logs/%x-%j.out"\n',
    ]
    lines += [
        f'[[jobs]]\nname = "step-{i:05d}"\nargs = ["{i}"]\noutputs = ["out/{i}.txt"]\n' for i in range(jobs)
    ]
    (folder / "run.sh").write_text("#!/bin/sh\necho $1\n")
    path = folder / "bench.toml"
    path.write_text("\n".join(lines))
    return path


async def build(folder: Path, jobs: int) -> Path:
    """A session of `jobs` submitted jobs in a mix of states; returns the database."""
    manifest = load_manifest(write_manifest(folder, jobs))
    db = folder / "jobdeck.db"
    store = await SessionStore.open(db)
    try:
        now = time.time() - 3600
        sid = await store.ensure_session(SESSION, str(manifest.path), manifest.to_dict(), now)
        await store.add_jobs(sid, [(d.name, d.task, d.spec) for d in expand_manifest(manifest)], now)
        updates: list[JobUpdate] = []
        for i, job in enumerate(await store.jobs(SESSION)):
            sub = await store.record_intent(
                sid, job.name, "submit", f"bench:{i}", job.cluster, [job], "-", now
            )
            result = SubmitResult(str(i + 1), {None: str(i + 1)}, "-")
            await store.confirm_submission(sub, result, [(job, f"{folder}/logs/{job.name}.out", None)], now)
            state = STATES[i % len(STATES)]
            patch = AttemptPatch(
                state=state, start_time=now + i % 60, end_time=None if state is State.RUNNING else now + 600
            )
            code = 3 if state is State.FAILED else None
            updates.append(JobUpdate(job.id, state, None, code, attempt=patch))  # type: ignore[arg-type]
        await store.apply_updates(updates, now + 600)
    finally:
        await store.close()
    return db


def table_rows(app: JobdeckApp) -> int:
    return app.screen.query_one(JobTable).row_count_visible if isinstance(app.screen, JobsScreen) else 0


async def painted(app: JobdeckApp, pilot: Pilot, jobs: int) -> None:
    """Wait until the jobs table holds `jobs` rows, then for one paint."""
    while table_rows(app) < jobs:
        await asyncio.sleep(0.001)
    await pilot.pause()


async def open_and_paint(db: Path, jobs: int) -> float:
    """Seconds from creating the app to its jobs table holding every row, painted once."""
    start = time.perf_counter()
    spare_the_collector()  # as `jobdeck` does at start-up
    app = JobdeckApp(db, SESSION, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await painted(app, pilot, jobs)
        return time.perf_counter() - start


async def poll_apply(db: Path) -> tuple[dict[str, list[float]], float]:
    """In a running app on a 1,000-job session: 1% of the jobs change in the store (as a poll
    writes them), then the screen's path: store.jobs, its RowCache.rows, table.update_rows. Also returns
    the median number of rows that differed (the changed jobs and running ones whose ELAPSED ticked)."""
    figures: dict[str, list[float]] = {"store.jobs": [], "rows": [], "update_rows": [], "total": []}
    rows_changed: list[int] = []
    spare_the_collector()  # as `jobdeck` does at start-up
    app = JobdeckApp(db, SESSION, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await painted(app, pilot, 1_000)
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        table = screen.query_one(JobTable)
        store: SessionStore = app.store
        for run in range(UPDATE_RUNS):
            jobs = await store.jobs(SESSION)
            changed = jobs[run % 100 :: 100]  # 1%
            flip = {State.RUNNING: State.SUCCEEDED, State.SUCCEEDED: State.RUNNING}
            await store.apply_updates(
                [JobUpdate(j.id, flip.get(j.state, State.RUNNING), None, None) for j in changed],  # type: ignore[arg-type]
                time.time(),
            )
            t0 = time.perf_counter()
            jobs = await store.jobs(SESSION)
            t1 = time.perf_counter()
            rows = screen.row_cache.rows(jobs, time.time())
            t2 = time.perf_counter()
            diff = table.update_rows(rows)
            t3 = time.perf_counter()
            assert len(diff.changed) >= len(changed)
            rows_changed.append(len(diff.changed))
            for name, value in (
                ("store.jobs", t1 - t0),
                ("rows", t2 - t1),
                ("update_rows", t3 - t2),
                ("total", t3 - t0),
            ):
                figures[name].append(value)
            await pilot.pause()
    return figures, statistics.median(rows_changed)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def measure_rss(db: Path, jobs: int) -> None:
    """Run in a fresh process: prints the RSS before the app and with its table painted."""
    before = rss_kib()
    spare_the_collector()  # as `jobdeck` does at start-up
    app = JobdeckApp(db, SESSION, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await painted(app, pilot, jobs)
        print(before, rss_kib())


async def read_and_build_rows(db: Path) -> tuple[float, float]:
    """For scale: the store read and the row building a start pays for, without the app."""
    store = await SessionStore.open(db)
    try:
        t0 = time.perf_counter()
        jobs = await store.jobs(SESSION)
        t1 = time.perf_counter()
        RowCache().rows(jobs, time.time())
        return t1 - t0, time.perf_counter() - t1
    finally:
        await store.close()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms"


async def main() -> None:
    print(machine())
    print(f"terminal {SIZE[0]}x{SIZE[1]}, plain jobs on the local backend, medians\n")
    with tempfile.TemporaryDirectory(prefix="jobdeck-tui-bench-") as tmp:
        dbs = {}
        for jobs in (1_000, 10_000):
            folder = Path(tmp) / str(jobs)
            folder.mkdir()
            start = time.perf_counter()
            dbs[jobs] = await build(folder, jobs)
            print(f"built a session of {jobs:,} jobs in {time.perf_counter() - start:.1f} s")
        print()
        for jobs, db in dbs.items():
            times = [await open_and_paint(db, jobs) for _ in range(RUNS)]
            print(f"(a) start to the first painted table, {jobs:>6,} jobs   {ms(statistics.median(times))}"
                  f"   (min {ms(min(times)).strip()}, max {ms(max(times)).strip()}, {RUNS} runs)")  # fmt: skip
            parts = [await read_and_build_rows(db) for _ in range(RUNS)]
            print(f"      of which store.jobs {ms(statistics.median(p[0] for p in parts)).strip()}, "
                  f"rows {ms(statistics.median(p[1] for p in parts)).strip()} (measured apart)")  # fmt: skip
        figures, rows_changed = await poll_apply(dbs[1_000])
        print(f"(b) one poll's result on a 1,000-job table (1% changed; {rows_changed:.0f} rows differed), "
              f"{UPDATE_RUNS} runs:")  # fmt: skip
        for name, values in figures.items():
            print(f"      {name:<12} {ms(statistics.median(values))}")
        out = subprocess.run(
            [sys.executable, __file__, "--rss", str(dbs[10_000]), "10000"],
            capture_output=True, text=True, timeout=300, check=True,
        ).stdout.split()  # fmt: skip
        before, after = int(out[0]), int(out[1])
        print(f"(c) RSS with 10,000 jobs painted          {after / 1024:9.1f} MiB"
              f"   (process before the app: {before / 1024:.1f} MiB, the app: +{(after - before) / 1024:.1f} MiB)")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--rss"]:
        asyncio.run(measure_rss(Path(sys.argv[2]), int(sys.argv[3])))
    else:
        asyncio.run(main())
