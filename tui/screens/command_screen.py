"""The `:` command line, as in k9s and vim."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input


class CommandScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="command.cancel")]

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder=":validate  :resume  :restart  :cancel  :logs  :filter TEXT  :sessions  :q",
            id="command",
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
