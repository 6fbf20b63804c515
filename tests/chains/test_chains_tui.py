"""The app (driven by Pilot) over a chain the engine really ran on the local backend: a series of
4 stages whose second went PARTIAL, and a report after the series. The table shows each stage as
"NAME k/N", the held stage says so, and the detail pane of a stage says what it waits for."""

from __future__ import annotations

import asyncio
import io
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static

from backends.registry import load_manifest
from monitor.chains import ready_stages
from monitor.expand import expand_manifest
from monitor.model import Job
from monitor.states import State
from monitor.supervisor import Supervisor
from store.session_store import SessionStore
from tui.app import JobdeckApp
from tui.screens.jobs_screen import JobsScreen
from tui.widgets.job_table import JobTable
from tui.wiring import close_controller, open_controller

JOBS = Path(__file__).resolve().parent / "jobs"
SESSION = "pipeline"
HELD = "held: loop-1 PARTIAL (resume or restart it to release)"
MANIFEST = """\
[session]
name = "pipeline"
poll_interval = 0.2
validate_grace = 0

[clusters.here]
backend = "local"

[[jobs]]
name = "loop"
script = "chainjob.sh"
repeat = { var = "period", range = "0-3" }
args = ["--period", "{period}", "{period_count}", "--write", "out/{period}.a",
        "--skip-once-if", "{period}", "1", ".skip-1", "--write", "out/{period}.b"]
outputs = ["out/{period}.a", "out/{period}.b"]

[[jobs]]
name = "report"
script = "chainjob.sh"
after = ["loop"]
args = ["--write", "out/report.txt"]
outputs = ["out/report.txt"]
"""


async def run_engine(db: Path, manifest: Path, done: Callable[[dict[str, Job]], bool]) -> dict[str, Job]:
    """What `jobdeck submit` then `jobdeck attach` do, in this process, until `done(jobs)`."""
    loaded = load_manifest(manifest)
    store = await SessionStore.open(db)
    try:
        session_id = await store.ensure_session(SESSION, str(loaded.path), loaded.to_dict(), time.time())
        await store.add_jobs(
            session_id, [(d.name, d.task, d.spec) for d in expand_manifest(loaded)], time.time()
        )
        supervisor = Supervisor(await open_controller(store, SESSION))
        try:
            await supervisor.controller.submit(ready_stages(await store.jobs(SESSION)))
            deadline = time.monotonic() + 30
            while not done(jobs := {j.name: j for j in await store.jobs(SESSION)}):
                assert time.monotonic() < deadline, {n: (j.state, j.reason) for n, j in jobs.items()}
                await supervisor.cycle()
                await asyncio.sleep(0.2)
            return jobs
        finally:
            await supervisor.release()
            await close_controller(supervisor.controller)
    finally:
        await store.close()


@pytest.fixture
async def held_chain(tmp_path: Path) -> Path:
    """The session's database once loop-1 settled PARTIAL and loop-2 was held."""
    folder = tmp_path / "work"
    shutil.copytree(JOBS, folder)
    (folder / "pipeline.toml").write_text(MANIFEST)
    db = tmp_path / "jobdeck.db"
    jobs = await run_engine(db, folder / "pipeline.toml", lambda jobs: jobs["loop-2"].reason == HELD)
    states = {name: job.state for name, job in jobs.items()}
    assert states == {"loop-0": State.SUCCEEDED, "loop-1": State.PARTIAL, "loop-2": State.PENDING,
                      "loop-3": State.PENDING, "report": State.PENDING}  # fmt: skip
    return db


def table_shown(app: JobdeckApp) -> bool:
    return isinstance(app.screen, JobsScreen) and app.screen.query_one(JobTable).row_count_visible > 0


def painted(table: JobTable) -> list[str]:
    return [table.render_line(y).text for y in range(1, table.size.height)]


async def until(condition: Callable[[], object], what: str, app: JobdeckApp) -> None:
    deadline = time.monotonic() + 15
    while not condition():
        screen = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert time.monotonic() < deadline, f"{what}: not within 15 s; screen:\n{screen}"
        await asyncio.sleep(0.05)


def detail(app: JobdeckApp) -> str:
    """The detail pane as plain text, without wrapping."""
    console = Console(width=500, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(app.screen.query_one("#detail-body", Static).content)
    return capture.get()


async def test_chain_rows_show_stage_places_held_stages_and_what_each_waits_for(held_chain: Path) -> None:
    app = JobdeckApp(held_chain, SESSION, polling=False)
    async with app.run_test(size=(150, 40)) as pilot:
        await until(lambda: table_shown(app), "the jobs table", app)
        table = app.screen.query_one(JobTable)
        rows = {line.split()[0]: line for line in painted(table) if line.strip()}
        assert list(rows) == ["loop-0", "loop-1", "loop-2", "loop-3", "report"], rows
        for stage, place, state in [("loop-0", "1/4", "SUCCEEDED"), ("loop-1", "2/4", "PARTIAL"),
                                    ("loop-2", "3/4", "PENDING"), ("loop-3", "4/4", "PENDING")]:  # fmt: skip
            assert rows[stage].split()[1:3] == [place, state], rows[stage]
        assert rows["report"].split()[1] == "PENDING", rows["report"]
        assert "held: loop-1" in rows["loop-2"], rows["loop-2"]  # the held stage is marked
        assert "held" not in rows["loop-3"] and "waiting for loop-2" in rows["loop-3"], rows["loop-3"]
        assert "waiting for loop-3" in rows["report"], rows["report"]

        details = {}
        for key in ("loop-2", "loop-3", "report"):
            for _ in range(len(rows)):
                if table.cursor_key == f"{SESSION}/{key}":
                    break
                await pilot.press("down")
            await until(lambda key=key: f"{SESSION}/{key} " in detail(app), f"the details of {key}", app)
            details[key] = detail(app).splitlines()
        for key, says in [
            ("loop-2", HELD),
            ("loop-3", "waiting for loop-2"),
            ("report", "waiting for loop-3"),
        ]:
            assert details[key][0].startswith(f"{SESSION}/{key}  PENDING  {says}"), details[key]
        events = details["loop-2"][details["loop-2"].index("events") :]
        assert [line for line in events if line.endswith(HELD)], details["loop-2"]  # the held event
