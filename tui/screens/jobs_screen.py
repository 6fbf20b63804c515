"""The jobs of one session: a live table updated in place each poll, the selected job's details,
and a status bar with each cluster's health. Actions live in jobs_actions.py."""

from __future__ import annotations

import asyncio
import time

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer, Input, Label, ProgressBar

from monitor.controller import Controller, PollOutcome
from monitor.errors import JobdeckError
from monitor.model import Job
from monitor.states import TERMINAL
from monitor.supervisor import CycleOutcome, Supervisor
from tui.cycle_report import cycle_report
from tui.job_rows import COLUMNS, job_key
from tui.keys import JOB_KEYS
from tui.row_cache import RowCache
from tui.screens.jobs_actions import JobActions
from tui.unwatched import unwatched_note
from tui.widgets.detail_pane import DetailPane
from tui.widgets.job_table import JobTable
from tui.widgets.status_bar import StatusBar
from tui.wiring import close_controller, open_controller


class JobsScreen(JobActions):
    BINDINGS = [k.binding() for k in JOB_KEYS]

    def __init__(self, session: str) -> None:
        super().__init__()
        self.session = session
        self.controller: Controller | None = None
        self.jobs: list[Job] = []
        self.by_key: dict[str, Job] = {}
        self.groups: dict[str, list[Job]] = {}
        self.row_cache = RowCache()
        self.show_finished = True
        self.last_outcome: PollOutcome | None = None
        self.last_cycle: CycleOutcome | None = None
        self.supervisor: Supervisor | None = None
        self.lease_note = ""  # set while another monitor holds the session's lease
        self.job_warnings: dict[str, str] = {}
        self._warned: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Label(f"jobdeck — {self.session}", id="title")
        with Horizontal(id="main"):
            yield JobTable(COLUMNS, id="jobs")
            yield DetailPane(id="detail")
        yield ProgressBar(id="progress", show_eta=False)
        yield Input(placeholder="filter: text, state:failed, reason:timeout, name:sweep", id="filter")
        yield StatusBar(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#progress", ProgressBar).display = False
        self.query_one(JobTable).focus()
        try:
            self.controller = await open_controller(self.app.store, self.session)
        except JobdeckError as exc:
            self.notify(str(exc), severity="error", timeout=15)
            return
        self.supervisor = Supervisor(self.controller)
        await self.reload()
        if self.app.polling:
            self.run_worker(self._poll_loop(), group="poll", exclusive=True)

    async def on_unmount(self) -> None:
        if self.supervisor is not None and not self.app.read_only:
            await self.supervisor.release()  # a read-only store holds no lease (and refuses writes)
        if self.controller is not None:
            await close_controller(self.controller)

    # -- data -------------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """True once the screen is being taken down (quit, back): a store read that ends then must
        not touch its widgets, which are already going away."""
        return not self.display

    def now(self) -> float:
        return self.app.clock()

    async def reload(self) -> None:
        """Read the session from the store and diff it into the table (the cursor stays put)."""
        try:
            jobs = await self.app.store.jobs(self.session)
        except JobdeckError as exc:
            self.notify(str(exc), severity="error")
            return
        if self.closing:
            return
        rows = self.row_cache.rows(jobs, self.now(), self.show_finished, self.job_warnings)
        self.jobs, self.by_key, self.groups = jobs, self.row_cache.by_key, self.row_cache.groups
        table = self.query_one(JobTable)
        table.update_rows(rows)
        hidden = sum(1 for j in jobs if j.state in TERMINAL) if not self.show_finished else 0
        self.refresh_status(f"{hidden} finished hidden (a)" if hidden else "")
        await self.show_detail(table.cursor_key)

    def refresh_status(self, extra: str = "") -> None:
        health = self.controller.health if self.controller else {}
        notes = [n for n in (extra, self.lease_note, self.app.mode_note()) if n]
        self.query_one(StatusBar).show(health, "  ".join(notes))

    async def poll_once(self) -> PollOutcome | None:
        """One supervisor cycle: act and poll if this monitor holds the lease, else only re-read."""
        if self.supervisor is None:
            return None
        try:
            cycle = await self.supervisor.cycle()
            self.last_cycle = cycle
        except JobdeckError as exc:
            self.notify(f"poll failed: {exc}", severity="error")
            return None
        report = cycle_report(cycle)
        if report.lease:
            self.lease_note = report.lease
            await self.reload()
            return None
        self.lease_note = ""
        if report.took_over:
            self.notify(report.took_over, timeout=10)
        outcome = cycle.poll
        self.last_outcome = outcome
        for warning in [*report.warnings, *report.poll_warnings]:
            if warning not in self._warned:
                self._warned.add(warning)
                self.notify(warning, severity="warning", timeout=10)
        for line in report.restarts:
            self.notify(line, timeout=10)
        if outcome is not None:
            self.job_warnings = dict(report.job_warnings)
            if not report.unreachable:
                self._warned.clear()
        await self.reload()
        return outcome

    async def _poll_loop(self) -> None:
        """Poll, then wait as the supervisor paces it; never two polls at once. A read-only app
        only re-reads the store (another monitor, or none, records the changes)."""
        assert self.supervisor is not None
        while True:
            if self.app.store.read_only:
                await self._note_unwatched()
                await self.reload()
                await asyncio.sleep(self.supervisor.interval)
                continue
            await self.poll_once()
            await asyncio.sleep(self.supervisor.next_delay(self.last_cycle))

    async def _note_unwatched(self) -> None:
        """A read-only app runs no cycles: its status bar says when nobody else does either."""
        try:
            self.lease_note = await unwatched_note(self.app.store, self.session)
        except JobdeckError as exc:
            self.notify(str(exc), severity="error")

    # -- selection and details --------------------------------------------------------------

    def selected_jobs(self) -> list[Job]:
        """Marked rows, else the cursor row; a group row means every task of the array."""
        table = self.query_one(JobTable)
        keys = list(table.marked) or ([table.cursor_key] if table.cursor_key else [])
        chosen: dict[str, Job] = {}
        for key in keys:
            for job in self.groups.get(key, [self.by_key[key]] if key in self.by_key else []):
                chosen.setdefault(job_key(job), job)
        return list(chosen.values())

    async def show_detail(self, key: str | None) -> None:
        pane = self.query_one(DetailPane)
        if key in self.groups:
            pane.show_group(self.groups[key])
            return
        job = self.by_key.get(key or "")
        if job is None or job.id is None:
            return
        store = self.app.store
        try:
            events = await store.events(job.id)
            outputs = await store.outputs(job.id)
        except JobdeckError as exc:
            self.notify(str(exc), severity="error")
            return
        if not self.closing:
            pane.show_job(job, events, outputs)

    @on(JobTable.CursorMoved)
    async def _cursor_moved(self, event: JobTable.CursorMoved) -> None:
        await self.show_detail(event.key)

    async def action_toggle_finished(self) -> None:
        self.show_finished = not self.show_finished
        await self.reload()

    async def action_refresh(self) -> None:
        await self.poll_once()

    def progress(self, done: int, total: int) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.display = done < total
        bar.update(total=total, progress=done)

    def stamp(self) -> str:
        return time.strftime("%H:%M:%S", time.localtime(self.now()))
