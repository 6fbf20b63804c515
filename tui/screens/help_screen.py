"""`?`: every key of every screen, with its id (for the keymap), what it does and its CLI twin."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.keys import ALL_KEYS


def key_text(app_keymap: dict[str, str], binding_id: str | None, default: str) -> str:
    """The key(s) a binding answers to now (the user's keymap wins), as typed: "?" not "question_mark"."""
    keys = app_keymap.get(binding_id or "", default)
    return ", ".join(
        k.replace("question_mark", "?").replace("colon", ":").replace("slash", "/") for k in keys.split(",")
    )


def key_table(title: str, rows: Iterable[tuple[str, str, str, str]]) -> Table:
    table = Table(title=title, title_justify="left", expand=True, show_edge=False, header_style="bold")
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("does")
    table.add_column("CLI twin", style="green")
    table.add_column("id (keymap)", style="dim", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, extra: Iterable[tuple[str, Iterable[BindingType]]] = ()) -> None:
        super().__init__()
        self.extra = list(extra)

    def compose(self) -> ComposeResult:
        keymap = dict(getattr(self.app, "_keymap", {}))
        main = [(key_text(keymap, k.id, k.key), k.description, k.cli, k.id) for k in ALL_KEYS]
        with VerticalScroll(id="help"):
            yield Label("jobdeck keys — remap any of them by id in ~/.config/jobdeck/config.toml [keymap]")
            yield Static(key_table("Jobs and app", main))
            for title, bindings in self.extra:
                rows = [
                    (key_text(keymap, b.id, b.key), b.description, "", b.id or "")
                    for b in bindings
                    if isinstance(b, Binding)  # the app's widgets declare theirs as Binding objects
                ]
                yield Static(key_table(title, rows))
