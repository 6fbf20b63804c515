"""The base of the app's screens: to the type checker, `self.app` is the jobdeck app (its store,
clock and modes), not any Textual app."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual.screen import Screen

if TYPE_CHECKING:
    from tui.app import JobdeckApp

R = TypeVar("R")


class DeckScreen(Screen[R]):
    if TYPE_CHECKING:
        app: JobdeckApp
