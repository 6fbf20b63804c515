"""The session the SVG snapshot tests and the README screenshots show, rebuilt identically every run,
and the scenes (key presses and waits) that bring the app to each picture.

Everything on screen is fixed: the folder (paths appear in the detail pane and the log title), the
scheduler IDs, the submission tags and every time. The story is still told by the real engine: the
jobs are registered from a real manifest through the real session store, each task's fate is written
as the local backend's own task record, and a real Controller (with a fixed clock) polls the real
LocalBackend, reconciles and validates the outputs found on disk. No process is started; the two
still-active tasks name this process as their shim so the backend sees them alive.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from rich.console import Console, RenderableType
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static

from backends.local.backend import LocalBackend
from backends.local.records import TaskRecord, process_start, record_path, write_record
from backends.registry import load_manifest
from monitor.controller import Controller, ControllerSettings, build_request
from monitor.expand import expand_manifest
from monitor.log_patterns import resolve_pattern
from monitor.model import Job, SubmitResult
from store.session_store import SessionStore
from tui.app import JobdeckApp
from tui.demo import write_session_files
from tui.screens.confirm_screen import ConfirmScreen
from tui.screens.help_screen import HelpScreen
from tui.screens.jobs_screen import JobsScreen
from tui.screens.log_screen import LogScreen
from tui.screens.sessions_screen import SessionsScreen
from tui.widgets.job_table import JobTable
from tui.widgets.log_view import LogView

FOLDER = Path("/tmp/jobdeck-snapshot-fixture")
SESSION = "paper-sweep"
CLUSTER = "laptop"
T0 = 1_767_261_600.0  # 2026-01-01 10:00:00 UTC: the session was registered and submitted
NOW = T0 + 3_723.0  # the app's clock: 11:02:03 UTC
SIZE = (150, 40)  # the terminal every snapshot and screenshot is taken at

MANIFEST = f"""\
[session]
name = "{SESSION}"
poll_interval = 5.0
validate_grace = 0.0

[clusters.{CLUSTER}]
backend = "local"
max_parallel = 4

[defaults]
cluster = "{CLUSTER}"
log = "logs/%x-%j.out"

[[jobs]]
name = "prepare"
script = "scripts/run.sh"
args = ["prepare", "data/prepared.txt"]
outputs = ["data/prepared.txt"]

[[jobs]]
name = "train"
script = "scripts/run.sh"
args = ["train", "models/model.bin"]
outputs = ["models/model.bin"]

[[jobs]]
name = "sweep"
script = "scripts/run.sh"
array = "0-5"
args = ["sweep", "results/sweep-{{task}}.csv"]
outputs = ["results/sweep-{{task}}.csv"]
log = "logs/%x-%A_%a.out"

[[jobs]]
name = "flaky"
script = "scripts/run.sh"
args = ["flaky", "-"]

[[jobs]]
name = "evaluate"
script = "scripts/run.sh"
args = ["evaluate", "results/eval.json"]
outputs = ["results/eval.json"]

[[jobs]]
name = "tail-me"
script = "scripts/run.sh"
args = ["tail-me", "-"]

[[jobs]]
name = "report"
script = "scripts/run.sh"
args = ["report", "results/report.pdf"]
outputs = ["results/report.pdf"]
"""

SCRIPT = """#!/bin/sh
# usage: run.sh STEP OUTPUT  (OUTPUT "-": none)
echo "$1: starting"
[ "$2" = - ] || { mkdir -p "$(dirname "$2")"; echo "$1" > "$2"; }
echo "$1: done"
"""

# Each job's task records as the local backend would have written them: (state, exit code,
# seconds after T0 it started and ended (None: not yet), the poll that first sees it).
FATES: dict[str, tuple[str, int | None, float | None, float | None, int]] = {
    "prepare": ("COMPLETED", 0, 3.0, 45.0, 1),
    "train": ("RUNNING", None, 47.0, None, 1),
    "sweep[0]": ("COMPLETED", 0, 50.0, 611.0, 2),
    "sweep[1]": ("COMPLETED", 0, 50.0, 598.0, 2),
    "sweep[2]": ("COMPLETED", 0, 50.0, 642.0, 2),
    "sweep[3]": ("COMPLETED", 0, 51.0, 605.0, 2),
    "sweep[4]": ("COMPLETED", 0, 51.0, 377.0, 2),  # exits 0 but never writes its CSV
    "sweep[5]": ("COMPLETED", 0, 612.0, 1_190.0, 3),
    "flaky": ("FAILED", 3, 4.0, 9.0, 1),
    "evaluate": ("PENDING", None, None, None, 1),
    "tail-me": ("CANCELLED", None, 5.0, 2_400.0, 3),
}
POLLS = (60.0, 700.0, 2_500.0)  # seconds after T0
MISSING = {"sweep[4]"}  # outputs the fixture does not create
NOT_SUBMITTED = {"report"}

LOGS = {
    "train": [f"epoch {i:>2}/40  loss {1.0 / (i + 1):.4f}  lr 3.0e-4" for i in range(1, 37)],
    "prepare": ["prepare: reading 1,204 files", "prepare: wrote data/prepared.txt", "prepare: done"],
    "flaky": ["flaky: starting", "flaky: the scratch disk is full; exiting 3"],
}


class FixedClock:
    """A clock that reads what it was last set to."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _label(job: Job) -> str:
    return job.name if job.task is None else f"{job.name}[{job.task}]"


def _tag(base_id: str) -> str:
    """The fixed tag of the submission that got scheduler ID `base_id` (jobdeck's are random)."""
    return f"jobdeck:fixture{int(base_id):05d}"


def _write_files(folder: Path) -> Path:
    return write_session_files(folder, "sweep.toml", MANIFEST, {"scripts/run.sh": SCRIPT})


def _log_lines(job: Job) -> list[str]:
    if job.task is not None:
        return [f"sweep task {job.task}: computing", f"sweep task {job.task}: wrote 1 row"]
    return LOGS.get(job.name, [f"{job.name}: starting", f"{job.name}: done"])


async def _submit(store: SessionStore, backend: LocalBackend, group: Sequence[Job], number: int) -> None:
    """What the controller does for one submission, with a fixed tag, ID and time."""
    first = group[0]
    base = str(number)
    request = build_request(group, _tag(base))
    is_array = first.task is not None
    task_ids = {j.task: f"{base}_{j.task}" if is_array else base for j in group}
    command = backend.describe_submit(request).replace("<id>", base)
    session_id = await store.session_id(SESSION)
    submission = await store.record_intent(
        session_id, first.name, "submit", request.tag, CLUSTER, group, command, T0
    )
    logs = [
        (j, resolve_pattern(request.log or "", job_id=task_ids[j.task], array_job_id=base if is_array else None,
                            task=j.task, name=j.name), None)
        for j in group
    ]  # fmt: skip
    await store.confirm_submission(submission, SubmitResult(base, task_ids, command), logs, T0)


def _write_record(backend: LocalBackend, job: Job, poll: int) -> None:
    """The job's task record as its shim leaves it by poll number `poll`."""
    state, code, start, end, seen = FATES[_label(job)]
    assert job.current is not None and job.job_id is not None and job.current.log_path is not None
    if seen > poll:
        state, code, start, end = "PENDING", None, None, None
    alive = state in ("PENDING", "RUNNING")  # its shim is this process, so the backend sees it live
    record = TaskRecord(
        job_id=job.job_id,
        name=job.name,
        tag=_tag(job.job_id.split("_")[0]),
        state=state,
        submit_time=T0,
        argv=(job.spec.script, *job.spec.args),
        log_path=job.current.log_path,
        exit_code=code,
        start_time=None if start is None else T0 + start,
        end_time=None if end is None else T0 + end,
        pid=os.getpid() if alive else None,
        pid_start=process_start(os.getpid()) if alive else None,
    )
    write_record(record_path(backend.state_dir / "records", job.job_id), record)


def _write_outputs(jobs: Sequence[Job]) -> None:
    for job in jobs:
        state, *_ = FATES.get(_label(job), ("", None, None, None, 0))
        if state != "COMPLETED" or _label(job) in MISSING:
            continue
        for check in job.spec.outputs:
            Path(check.path).parent.mkdir(parents=True, exist_ok=True)
            Path(check.path).write_text(f"{_label(job)}\n")


async def build_session(folder: Path = FOLDER) -> Path:
    """(Re)create `folder` with the session and return its database path."""
    shutil.rmtree(folder, ignore_errors=True)
    manifest = load_manifest(_write_files(folder))
    db = folder / "jobdeck.db"
    store = await SessionStore.open(db)
    backend = LocalBackend(CLUSTER, db.parent / "local-jobs", max_parallel=4)
    (backend.state_dir / "records").mkdir(parents=True)
    try:
        session_id = await store.ensure_session(SESSION, str(manifest.path), manifest.to_dict(), T0)
        definitions = expand_manifest(manifest)
        await store.add_jobs(session_id, [(d.name, d.task, d.spec) for d in definitions], T0)
        groups: dict[str, list[Job]] = {}
        for job in await store.jobs(SESSION):
            if job.name not in NOT_SUBMITTED:
                groups.setdefault(job.name, []).append(job)
        for number, group in enumerate(groups.values(), 1):
            await _submit(store, backend, group, number)
        jobs = [j for j in await store.jobs(SESSION) if j.current is not None]
        _write_outputs(jobs)
        for job in jobs:
            log = Path(job.current.log_path or "")  # type: ignore[union-attr]
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("".join(f"{line}\n" for line in _log_lines(job)))
        clock = FixedClock(T0)
        settings = ControllerSettings(poll_interval=5.0, validate_grace=0.0)
        controller = Controller(store, SESSION, {CLUSTER: backend}, settings, clock=clock)
        for poll, seconds in enumerate(POLLS, 1):
            for job in jobs:
                _write_record(backend, job, poll)
            clock.now = T0 + seconds
            await controller.poll()
    finally:
        await store.close()
    return db


# -- scenes: the app brought to what each picture shows ----------------------------------------------

Scene = Callable[[Pilot], Awaitable[None]]


def make_app(db: Path, session: str | None = SESSION) -> JobdeckApp:
    """The app as every picture takes it: the clock fixed at NOW, no polling."""
    return JobdeckApp(db, session, polling=False, clock=FixedClock(NOW))


def screen_lines(app: App) -> list[str]:
    """Every line of the terminal as painted now."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def plain(renderable: RenderableType) -> str:
    """A renderable as plain text, without wrapping."""
    console = Console(width=500, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def detail_text(app: App) -> str:
    return plain(app.screen.query_one("#detail-body", Static).content)


async def until(app: App, condition: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    """Wait for `condition`; on timeout, fail with the screen as it is."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            screen = "\n".join(screen_lines(app))
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; screen:\n{screen}")
        await asyncio.sleep(0.05)


async def _goto(pilot: Pilot, key: str) -> None:
    """Arrow down onto row `key`, and wait for its details."""
    app = pilot.app
    for _ in range(20):
        if app.screen.query_one(JobTable).cursor_key == key:
            break
        await pilot.press("down")
    await until(app, lambda: f"{key} " in detail_text(app), f"the details of {key}")


async def jobs_scene(pilot: Pilot) -> None:
    """Every state of the story, the array folded with its counts, the first job's details."""
    app = pilot.app
    shown = lambda: isinstance(app.screen, JobsScreen) and app.screen.query_one(JobTable).row_count_visible  # noqa: E731
    await until(app, shown, "the jobs table")
    await until(app, lambda: f"{SESSION}/prepare " in detail_text(app), "the first job's details")


async def detail_scene(pilot: Pilot) -> None:
    """The sweep unfolded, the cursor on its task without output: attempts, missing output, events."""
    await jobs_scene(pilot)
    await _goto(pilot, f"{SESSION}/sweep")
    await pilot.press("enter")
    await _goto(pilot, f"{SESSION}/sweep[4]")


async def log_scene(pilot: Pilot) -> None:
    """The running job's log, followed to its end."""
    app = pilot.app
    await jobs_scene(pilot)
    await _goto(pilot, f"{SESSION}/train")
    await pilot.press("l")
    await until(app, lambda: isinstance(app.screen, LogScreen), "the log screen")
    lines = lambda: len(app.screen.query_one(LogView).body.lines)  # noqa: E731
    await until(app, lambda: lines() == len(LOGS["train"]), "every line of the log")


async def help_scene(pilot: Pilot) -> None:
    await jobs_scene(pilot)
    await pilot.press("question_mark")
    await until(pilot.app, lambda: isinstance(pilot.app.screen, HelpScreen), "the help")


async def resume_scene(pilot: Pilot) -> None:
    """`r` on the PARTIAL array: the dry run names only the task whose output is missing."""
    await jobs_scene(pilot)
    await _goto(pilot, f"{SESSION}/sweep")
    await pilot.press("r")
    await until(pilot.app, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the confirmation")


async def sessions_scene(pilot: Pilot) -> None:
    """Opened without a session: the list of sessions."""
    app = pilot.app
    await until(app, lambda: isinstance(app.screen, SessionsScreen), "the sessions")
    await until(app, lambda: app.screen.query_one("#sessions").row_count == 1, "the session's row")
