"""Fixtures for the app's tests: a real session store holding a session of real local processes in
known states (Pilot tests), the fixed session the SVG snapshots show (built by the same module as
the README screenshots), and the real app with a few helpers to wait on it and read its screen."""

from __future__ import annotations

import asyncio
import fcntl
import inspect
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from backends.local.backend import LocalBackend
from backends.registry import CLUSTER_KINDS, load_manifest
from monitor.expand import expand_manifest
from monitor.model import Job
from monitor.states import State
from monitor.track import track
from store.session_store import SessionStore
from tui.app import JobdeckApp
from tui.demo import write_session_files
from tui.widgets.job_table import JobTable
from tui.wiring import close_controller, open_controller

# the screenshots' session and scenes, shared with the snapshot tests
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "screenshots"))
import snapshot_session

SETTLE_SECONDS = 30.0

JOB_SCRIPT = """#!/bin/sh
# usage: job.sh CODE OUTPUT SLEEP [TASK]  (OUTPUT "-": none; task 1 forgets its output the first time)
echo "job.sh $*"
echo "working on ${4:-it}"
sleep "$3"
if [ "$2" != - ]; then
    if [ "$4" = 1 ] && [ ! -e .task-1-tried ]; then
        touch .task-1-tried
        echo "task 1: exiting 0 WITHOUT writing $2"
        exit 0
    fi
    mkdir -p "$(dirname "$2")"
    echo done > "$2"
fi
echo "finished with $1"
echo "job.sh: exit $1" >&2
exit "$1"
"""

LIVE_MANIFEST = """\
[session]
name = "{session}"
poll_interval = 0.3
validate_grace = 0.0

[clusters.here]
backend = "local"
max_parallel = 8

[defaults]
cluster = "here"
log = "logs/%x-%j.out"

[[jobs]]
name = "ok"
script = "job.sh"
args = ["0", "out/ok.txt", "0"]
outputs = ["out/ok.txt"]

[[jobs]]
name = "broken"
script = "job.sh"
args = ["3", "-", "0"]
err = "logs/%x-%j.err"

[[jobs]]
name = "sweep"
script = "job.sh"
array = "0-2"
args = ["0", "out/sweep-{{task}}.txt", "0", "{{task}}"]
outputs = ["out/sweep-{{task}}.txt"]
log = "logs/%x-%A_%a.out"

[[jobs]]
name = "sleeper"
script = "job.sh"
args = ["0", "-", "300"]

[[jobs]]
name = "later"
script = "job.sh"
args = ["0", "out/later.txt", "0"]
outputs = ["out/later.txt"]
"""
LIVE_STATES = {
    "ok": State.SUCCEEDED,
    "broken": State.FAILED,
    "sweep[0]": State.SUCCEEDED,
    "sweep[1]": State.FAILED,  # exited 0 without its output: the array is PARTIAL
    "sweep[2]": State.SUCCEEDED,
    "sleeper": State.RUNNING,
    "later": State.PENDING,  # registered, never submitted
}


def label(job: Job) -> str:
    return job.name if job.task is None else f"{job.name}[{job.task}]"


@dataclass(frozen=True)
class Live:
    """A session of real local processes: its database, name and working folder."""

    db: Path
    session: str
    folder: Path

    @property
    def manifest(self) -> Path:
        return self.folder / "live.toml"

    async def jobs(self) -> dict[str, Job]:
        """The session as stored now, by label ("sweep[1]")."""
        store = await SessionStore.open(self.db)
        try:
            return {label(j): j for j in await store.jobs(self.session)}
        finally:
            await store.close()

    async def add_job(self, name: str, args: list[str]) -> None:
        """Append a job to the manifest, register it as `jobdeck track` would, and submit it."""
        with self.manifest.open("a") as manifest:
            manifest.write(f'\n[[jobs]]\nname = "{name}"\nscript = "job.sh"\nargs = {json.dumps(args)}\n')
        store = await SessionStore.open(self.db)
        try:
            await track(store, self.session, CLUSTER_KINDS)
            controller = await open_controller(store, self.session)
            try:
                await controller.submit([j for j in await store.jobs(self.session) if j.name == name])
            finally:
                await close_controller(controller)
        finally:
            await store.close()

    async def submissions(self) -> int:
        store = await SessionStore.open(self.db)
        try:
            return len(await store.submissions())
        finally:
            await store.close()


async def settle(store: SessionStore, session: str, done: Callable[[dict[str, Job]], bool]) -> None:
    """Poll through a real controller until `done(jobs)` holds."""
    controller = await open_controller(store, session)
    deadline = time.monotonic() + SETTLE_SECONDS
    try:
        while True:
            await controller.poll()
            jobs = {label(j): j for j in await store.jobs(session)}
            if done(jobs):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs did not settle: { {k: j.state for k, j in jobs.items()} }")
            await asyncio.sleep(0.1)
    finally:
        await close_controller(controller)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    """Real processes on the local backend, settled into LIVE_STATES; every process still running
    when the test ends is cancelled."""
    folder = tmp_path / "work"
    session = "live"
    path = write_session_files(
        folder, "live.toml", LIVE_MANIFEST.format(session=session), {"job.sh": JOB_SCRIPT}
    )
    db = tmp_path / "jobdeck.db"  # the app keeps local-backend state beside it: tmp_path/local-jobs
    manifest = load_manifest(path)
    try:
        store = await SessionStore.open(db)
        try:
            now = time.time()
            session_id = await store.ensure_session(session, str(manifest.path), manifest.to_dict(), now)
            definitions = [(d.name, d.task, d.spec) for d in expand_manifest(manifest)]
            await store.add_jobs(session_id, definitions, now)
            controller = await open_controller(store, session)
            try:
                pending = await store.jobs(session, states=[State.PENDING])
                await controller.submit([j for j in pending if j.name != "later"])
            finally:
                await close_controller(controller)
            await settle(store, session, lambda jobs: {k: j.state for k, j in jobs.items()} == LIVE_STATES)
        finally:
            await store.close()
        yield Live(db, session, folder)
    finally:
        await cancel_everything(db, tmp_path / "local-jobs")


async def cancel_everything(db: Path, state_dir: Path) -> None:
    """End every process any attempt of any session started (finished ones are skipped)."""
    store = await SessionStore.open(db)
    try:
        ids = {a.job_id for j in await store.jobs() for a in j.attempts if a.job_id}
    finally:
        await store.close()
    if ids and state_dir.exists():
        await LocalBackend("cleanup", state_dir).cancel(sorted(ids))


@pytest.fixture
def utc() -> Iterator[None]:
    """Times on screen in UTC, whatever the machine's zone."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture
def snapshot_db(utc: None) -> Iterator[Path]:
    """The fixed session of the snapshots, rebuilt from scratch for each test. Its folder is one
    fixed path (the snapshots show it), so a test holds it alone, whatever pytest-xdist worker runs
    the others."""
    with open(f"{snapshot_session.FOLDER}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield asyncio.run(snapshot_session.build_session())


class DrivenApp(JobdeckApp):
    """The real app, remembering every notification it showed, with helpers to wait on it and read
    what it paints."""

    # a relative CSS_PATH is read beside the subclass's module: point at the app's own
    CSS_PATH = str(Path(inspect.getfile(JobdeckApp)).with_name("app.tcss"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[str] = []

    def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.notes.append(str(message))
        super().notify(message, **kwargs)

    async def until(self, condition: Callable[[], object], what: str, timeout: float = 15.0) -> None:
        await snapshot_session.until(self, condition, what, timeout)

    def screen_lines(self) -> list[str]:
        return snapshot_session.screen_lines(self)

    def screen_text(self) -> str:
        return "\n".join(self.screen_lines())

    def static_text(self, selector: str) -> str:
        """What a Static of the current screen holds, as plain text without wrapping."""
        return snapshot_session.plain(self.screen.query_one(selector, Static).content)

    @property
    def table(self) -> JobTable:
        return self.screen.query_one(JobTable)

    def painted_rows(self) -> list[list[str]]:
        """The job table's visible rows as painted, each split into words (the header left out)."""
        table = self.table
        lines = [table.render_line(y).text for y in range(1, table.size.height)]
        return [line.split() for line in lines if line.strip()]

    def rows(self) -> list[list[str]]:
        """The visible rows without their marks."""
        return [row[1:] if row[0] == "●" else row for row in self.painted_rows()]

    def marked_rows(self) -> list[str]:
        """The first word after the mark of every row painted as marked."""
        return [row[1] for row in self.painted_rows() if row[0] == "●"]

    def row(self, *words: str) -> list[str] | None:
        """The first visible row starting with `words` (a group row starts with ▸ or ▾)."""
        for row in self.rows():
            if row[: len(words)] == list(words):
                return row
        return None

    async def goto(self, pilot: Any, key: str) -> None:
        """Move the cursor with the arrow keys onto the row `key` ("live/sweep[1]", "lab/4102")."""
        await pilot.press("home")
        for _ in range(40):
            if self.table.cursor_key == key:
                return
            await pilot.press("down")
        raise AssertionError(f"no row {key} in the table: {self.rows()}")

    def notes_with(self, text: str) -> list[str]:
        return [n for n in self.notes if text in n]


@pytest.fixture
def make_app() -> Callable[..., DrivenApp]:
    """DrivenApp(db, session, config, polling=..., clock=..., read_only=...)."""
    return DrivenApp
