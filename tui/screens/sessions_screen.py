"""Every stored session with its counts per state and last activity; enter opens one."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Label

from monitor.errors import JobdeckError
from monitor.model import SessionSummary
from monitor.states import State
from store.session_store import SessionStore
from tui.job_rows import STATE_ICONS
from tui.screens.deck_screen import DeckScreen
from tui.unwatched import session_unwatched

REFRESH_SECONDS = 5.0


async def _monitor_text(store: SessionStore, summary: SessionSummary) -> Text | str:
    """Who acts for the session now, or what waits for a monitor (and the command that moves it on)."""
    if summary.lease is not None:
        return f"watched by {summary.lease.holder}"
    found = await session_unwatched(store, summary)
    return Text(f"{found.summary()}: jobdeck sync", style="yellow") if found else ""


class SessionsScreen(DeckScreen[None]):
    BINDINGS = [Binding("enter", "open", "Open", id="sessions.open")]
    told_empty = False  # the "no sessions yet" notice is shown once, until sessions appear

    def compose(self) -> ComposeResult:
        yield Label("jobdeck — sessions", id="title")
        table: DataTable[str] = DataTable(cursor_type="row", id="sessions")
        table.add_columns("SESSION", "JOBS", "STATES", "LAST ACTIVITY", "MONITOR", "MANIFEST")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(REFRESH_SECONDS, self.refresh_sessions)

    async def on_screen_resume(self) -> None:  # also the first time the screen is shown
        await self.refresh_sessions()

    async def refresh_sessions(self) -> None:
        try:
            store = self.app.store
            summaries = await store.sessions()
            monitors = [await _monitor_text(store, s) for s in summaries]
        except JobdeckError as exc:
            self.notify(str(exc), severity="error")
            return
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        for s, monitor in zip(summaries, monitors, strict=True):
            states = " ".join(
                f"{STATE_ICONS[state]}{state.value.lower()} {n}"
                for state, n in sorted(s.counts.items(), key=lambda kv: list(State).index(kv[0]))
            )
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.last_activity))
            table.add_row(s.name, str(s.total), states, when, monitor, s.manifest_path or "", key=s.name)
        if summaries:
            table.move_cursor(row=min(keep, len(summaries) - 1))
        elif not self.told_empty and self.app.screen is self:  # not under My jobs
            self.notify("no sessions yet: `jobdeck submit MANIFEST` or `jobdeck demo`", timeout=10)
        self.told_empty = not summaries and (self.told_empty or self.app.screen is self)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_session(str(event.row_key.value))

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            self.app.open_session(str(key.value))
