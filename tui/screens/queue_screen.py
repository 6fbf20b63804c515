"""The "My jobs" screen: every job of the user on every cluster, manifest or not, live in the same table and
detail pane as a session. Refreshed every few seconds (never two listings at once); a cluster that
does not answer keeps its last rows and is shown in the status bar. Key actions: queue_actions.py."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer, Input, Label

from monitor.controller import ClusterHealth
from monitor.errors import JobdeckError
from monitor.queue import QueueEntry
from tui.keys import QUEUE_KEYS
from tui.queue_clusters import no_clusters_message
from tui.queue_detail import render_array, render_entry
from tui.queue_row_cache import QueueRowCache
from tui.queue_rows import ShownOrder, chosen_columns
from tui.queue_source import QueueFeed, QueueSnapshot
from tui.screens.queue_actions import QueueActions
from tui.widgets.detail_pane import DetailPane
from tui.widgets.job_table import JobTable
from tui.widgets.status_bar import StatusBar

REFRESH_SECONDS = 5.0
"""How often the queue is listed again (each cluster's listing has its own timeout)."""


class QueueScreen(QueueActions):
    BINDINGS = [k.binding() for k in QUEUE_KEYS]

    def __init__(self) -> None:
        super().__init__()
        self.feed: QueueFeed | None = None
        self.entries: tuple[QueueEntry, ...] = ()
        self.show_finished = True
        self.health: dict[str, ClusterHealth] = {}
        self._told: dict[str, str] = {}  # cluster -> the error last notified
        self._listing = asyncio.Lock()
        self._shown = False
        self.row_cache = QueueRowCache(())
        self.shown_order = ShownOrder()

    def compose(self) -> ComposeResult:
        columns, _ = chosen_columns(self.app.config.columns)
        self.row_cache = QueueRowCache(columns)
        yield Label("jobdeck — My jobs", id="title")
        yield Label("", id="queue-notice")
        with Horizontal(id="main"):
            yield JobTable([c.column for c in columns], id="jobs")
            yield DetailPane(id="detail")
        yield Input(placeholder="filter: text, state:running, session:x, partition:gpu", id="filter")
        yield StatusBar(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#queue-notice", Label).display = False
        self.query_one(JobTable).focus()
        _, unknown = chosen_columns(self.app.config.columns)
        if unknown:
            self.notify(
                f"[queue] columns: no column named {', '.join(unknown)}", severity="warning", timeout=10
            )
        try:
            self.feed = self.app.open_queue_feed()
        except JobdeckError as exc:
            self._notice(str(exc))
            self.notify(str(exc), severity="error", timeout=15)
            return
        if not self.feed.clusters:
            self._notice(no_clusters_message(self.app.config))
            return
        self.refresh_status()
        self.run_worker(self._refresh_loop(), group="queue", exclusive=True)

    async def on_unmount(self) -> None:
        if self.feed is not None:
            await self.feed.close()

    def _notice(self, line: str) -> None:
        notice = self.query_one("#queue-notice", Label)
        notice.update(Text(line))
        notice.display = True
        self.query_one(StatusBar).update(Text(line))

    # -- data -------------------------------------------------------------------------------

    async def _refresh_loop(self) -> None:
        """List the queue every few seconds while the screen is shown (a session or a log opened
        above it asks the scheduler nothing for it); at once when it is shown again."""
        while True:
            if self.is_current:
                await self.refresh_queue()
            if not self.app.polling:
                return
            await asyncio.sleep(REFRESH_SECONDS)

    async def on_screen_resume(self) -> None:
        """Shown again (not the first time: the loop's first listing is under way)."""
        if self._shown and self.feed is not None and self.feed.clusters:
            self.run_worker(self.refresh_queue(), group="queue-now", exclusive=True)
        self._shown = True

    async def refresh_queue(self) -> None:
        """List every cluster once and show it; a refresh asked for while one runs waits for it."""
        if self.feed is None:
            return
        async with self._listing:
            try:
                snapshot = await self.feed.refresh(self.app.config.history_hours)
            except JobdeckError as exc:
                self.notify(f"listing the queue failed: {exc}", severity="error", timeout=10)
                return
            if self.display:
                self._show(snapshot)

    def _show(self, snapshot: QueueSnapshot) -> None:
        self.entries = self.shown_order.order(snapshot.entries)
        self._note_health(snapshot)
        self.redraw()

    def redraw(self) -> None:
        """The entries as rows, diffed into the table (the cursor stays put)."""
        table = self.query_one(JobTable)
        table.update_rows(self.row_cache.rows(self.entries, self.app.clock(), self.show_finished))
        self.refresh_status()
        self.show_detail(table.cursor_key)

    def _note_health(self, snapshot: QueueSnapshot) -> None:
        for name in snapshot.reports:
            self.health[name] = ClusterHealth(name, True, snapshot.at, snapshot.at)
            self._told.pop(name, None)
        for name, error in snapshot.errors.items():
            before = self.health.get(name)
            self.health[name] = ClusterHealth(
                name, False, snapshot.at, before.last_ok if before else None, error
            )
            if self._told.get(name) != error:
                self._told[name] = error
                self.notify(f"{error} (showing its last rows)", severity="error", timeout=10)
        for report in snapshot.reports.values():
            for line in report.notices:
                if self._told.get(f"{report.cluster}:{line}") is None:
                    self._told[f"{report.cluster}:{line}"] = line
                    self.notify(line, severity="warning", timeout=10)
        if snapshot.store_error is not None and self._told.get(":store") != snapshot.store_error:
            self._told[":store"] = snapshot.store_error  # the jobs are listed, without their sessions
            self.notify(snapshot.store_error, severity="error", timeout=15)

    def refresh_status(self) -> None:
        hidden = 0 if self.show_finished else sum(1 for e in self.entries if e.finished)
        notes = [
            f"{len(self.entries)} jobs",
            f"{hidden} finished hidden (a)" if hidden else "",
            self.app.mode_note(),
        ]
        self.query_one(StatusBar).show(self.health, "  ".join(n for n in notes if n))

    # -- selection and details --------------------------------------------------------------

    def selected_entries(self) -> list[QueueEntry]:
        """Marked rows, else the cursor row; an array's row means every task of the array."""
        table = self.query_one(JobTable)
        keys = list(table.marked) or ([table.cursor_key] if table.cursor_key else [])
        cache = self.row_cache
        chosen: dict[str, QueueEntry] = {}
        for key in keys:
            for entry in cache.groups.get(key, [cache.by_key[key]] if key in cache.by_key else []):
                chosen.setdefault(entry.key, entry)
        return list(chosen.values())

    def show_detail(self, key: str | None) -> None:
        pane = self.query_one(DetailPane)
        cache = self.row_cache
        if key in cache.groups:
            tasks = cache.groups[key]
            pane.show(("array", *tasks), lambda: render_array(tasks))
            return
        entry = cache.by_key.get(key or "")
        if entry is not None:
            now = self.app.clock()
            pane.show(("entry", entry, int(now)), lambda: render_entry(entry, now))

    @on(JobTable.CursorMoved)
    def _cursor_moved(self, event: JobTable.CursorMoved) -> None:
        self.show_detail(event.key)

    @on(JobTable.RowActivated)
    def _activated(self, event: JobTable.RowActivated) -> None:
        """Enter on a job of a session opens the session (on an array's row it folds the array)."""
        entry = self.row_cache.by_key.get(event.key)
        if entry is not None and entry.session is not None:
            self.app.open_session(entry.session)

    # -- finished, refresh, columns ----------------------------------------------------------

    def action_toggle_finished(self) -> None:
        self.show_finished = not self.show_finished
        self.redraw()

    async def action_refresh(self) -> None:
        await self.refresh_queue()

    def apply_columns(self, keys: list[str]) -> None:
        """Show these columns now (the filter and the rows kept; the sort starts over)."""
        columns, _ = chosen_columns(keys)
        self.row_cache = QueueRowCache(columns)
        table = self.query_one(JobTable)
        table.set_columns([c.column for c in columns])
        self.redraw()
        table.set_filter(self.query_one("#filter", Input).value)
