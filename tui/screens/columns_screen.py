"""The column picker of "My jobs": every column, the shown ones ticked; space ticks, ctrl+s saves."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, SelectionList

from tui.queue_rows import QUEUE_COLUMNS


class ColumnsScreen(ModalScreen[list[str] | None]):
    """Dismissed with the ticked columns' keys in the table's order, or None when left with escape."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="columns.save"),
        Binding("escape", "cancel", "Cancel", id="columns.cancel"),
    ]

    def __init__(self, shown: Sequence[str]) -> None:
        super().__init__()
        self.shown = set(shown)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(
                "Columns of My jobs (space ticks, ctrl+s saves in the config file)", id="dialog-title"
            )
            yield SelectionList[str](
                *((f"{c.label.lower()} ({c.key})", c.key, c.key in self.shown) for c in QUEUE_COLUMNS),
                id="columns",
            )
            with Horizontal(id="dialog-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        ticked = set(self.query_one(SelectionList).selected)
        if not ticked:
            self.notify("tick at least one column", severity="warning")
            return
        self.dismiss([c.key for c in QUEUE_COLUMNS if c.key in ticked])

    def action_cancel(self) -> None:
        self.dismiss(None)
