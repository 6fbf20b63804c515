"""The log screen as the app wires it (tui.log_wiring): offsets kept in the real session store, so a
view re-opened by another monitor continues where the last one stopped; a replaced log is noticed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot

from backends.local.backend import LocalBackend
from monitor.controller import Controller
from monitor.log_tail import ROTATED_NOTICE
from monitor.model import Job, JobSpec, SubmitResult
from store.session_store import SessionStore
from tui.log_wiring import log_source
from tui.screens.log_screen import LogScreen
from tui.widgets.log_view import LogLines

POLL = 0.05


class Host(App[None]):
    def __init__(self, screen: LogScreen) -> None:
        super().__init__()
        self.log_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self.log_screen)

    def texts(self) -> list[str]:
        return [line.text for line in self.log_screen.query_one(LogLines).lines]


async def until(
    pilot: Pilot[None], condition: Callable[[], object], what: str, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(POLL)


@asynccontextmanager
async def shown(db: Path, state: Path) -> AsyncIterator[tuple[Host, Pilot[None], SessionStore, Job]]:
    """The log of the session's job, as a freshly started monitor would show it."""
    store = await SessionStore.open(db)
    try:
        (job,) = await store.jobs("s")
        controller = Controller(store, "s", {"here": LocalBackend("here", state)})
        app = Host(LogScreen(log_source(job, controller, store), poll_interval=POLL))
        async with app.run_test(size=(100, 30)) as pilot:
            yield app, pilot, store, job
    finally:
        await store.close()


@pytest.fixture
async def session(tmp_path: Path) -> tuple[Path, Path]:
    """A database with one submitted job whose log is `job.out`; returns the database and the log."""
    log = tmp_path / "job.out"
    log.write_text("".join(f"line {n}\n" for n in range(5)))
    store = await SessionStore.open(tmp_path / "db.sqlite")
    try:
        sid = await store.ensure_session("s", None, {}, 1.0)
        await store.add_jobs(sid, [("j", None, JobSpec("here", "/bin/true", str(tmp_path)))], 1.0)
        (job,) = await store.jobs("s")
        submission = await store.record_intent(sid, "j", "submit", "tag-1", "here", [job], "run", 2.0)
        await store.confirm_submission(
            submission, SubmitResult("1", {None: "1"}, "run"), [(job, str(log), None)], 3.0
        )
    finally:
        await store.close()
    return tmp_path / "db.sqlite", log


async def test_a_reopened_view_continues_from_the_stored_offset(
    session: tuple[Path, Path], tmp_path: Path
) -> None:
    db, log = session
    async with shown(db, tmp_path / "state") as (app, pilot, store, job):
        attempt_id = job.attempts[0].id or 0
        await until(pilot, lambda: app.texts() == [f"line {n}" for n in range(5)], "the first lines")
        saved = await store.log_offset(attempt_id, "stdout")
        assert saved is not None and saved[:2] == (str(log), log.stat().st_size)

    read_up_to = log.stat().st_size
    with log.open("a") as handle:
        handle.write("while away\n")

    async with shown(db, tmp_path / "state") as (app, pilot, store, job):
        await until(pilot, lambda: len(app.texts()) == 2, "the notice and the new line")
        assert app.texts() == [
            f"--- continuing at byte {read_up_to:,}, where this log was last read ---",
            "while away",
        ]


async def test_a_replaced_log_is_noticed_and_read_from_its_start(
    session: tuple[Path, Path], tmp_path: Path
) -> None:
    db, log = session
    async with shown(db, tmp_path / "state") as (app, pilot, _, _):
        await until(pilot, lambda: len(app.texts()) == 5, "the first lines")
        log.rename(tmp_path / "job.out.1")
        log.write_text("".join(f"new {n}\n" for n in range(8)))  # bigger than the old one

        await until(pilot, lambda: len(app.texts()) == 14, "the notice and the new file")
        assert app.texts()[5:] == [ROTATED_NOTICE, *(f"new {n}" for n in range(8))]
