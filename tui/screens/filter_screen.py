"""The filter box of the screens with a job table (a session's jobs, My jobs): `/` opens it, each
key filters, enter keeps the filter and goes back to the table, escape clears it, and escape with no
filter goes back to the sessions."""

from __future__ import annotations

from textual import on
from textual.widgets import Input

from tui.screens.deck_screen import DeckScreen
from tui.widgets.job_table import JobTable


class FilterScreen(DeckScreen[None]):
    """Composes a JobTable and an Input with id `filter`."""

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(JobTable).set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.query_one("#filter", Input).display = bool(event.value)
        self.query_one(JobTable).focus()

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.value or box.display:
            box.value = ""
            box.display = False
            self.query_one(JobTable).set_filter("")
            self.query_one(JobTable).focus()
            return
        self.app.action_sessions()
