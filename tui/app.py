"""The full-screen app: sessions, a session's jobs, logs, help; keys remappable by id."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.widgets import Input

from monitor.errors import JobdeckError
from store.session_store import SessionStore
from tui.config import UserConfig
from tui.keys import APP_KEYS, by_command
from tui.palette import JobdeckCommands
from tui.screens.command_screen import CommandScreen
from tui.screens.help_screen import HelpScreen
from tui.screens.jobs_screen import JobsScreen
from tui.screens.log_screen import LogScreen
from tui.screens.sessions_screen import SessionsScreen
from tui.widgets.job_table import JobTable


class JobdeckApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "jobdeck"
    BINDINGS = [k.binding() for k in APP_KEYS]
    COMMANDS = App.COMMANDS | {JobdeckCommands}

    def __init__(
        self,
        db: Path,
        session: str | None = None,
        config: UserConfig | None = None,
        *,
        polling: bool = True,
        clock: Callable[[], float] = time.time,
        read_only: bool | None = None,
    ) -> None:
        super().__init__()
        self.db = db
        self.start_session = session
        self.config = config or UserConfig()
        self.polling = polling
        self.clock = clock
        self.read_only = self.config.read_only if read_only is None else read_only
        self.store: SessionStore

    async def on_load(self) -> None:
        self.set_keymap(self.config.keymap)

    async def on_mount(self) -> None:
        try:
            self.store = await SessionStore.open(self.db, read_only=self.read_only and self.db.exists())
        except JobdeckError as exc:
            self.exit(message=f"jobdeck: error: {exc}")
            return
        await self.push_screen(SessionsScreen())
        if self.start_session:
            self.open_session(self.start_session)

    async def on_unmount(self) -> None:
        store = getattr(self, "store", None)
        if store is not None:
            await store.close()

    def mode_note(self) -> str:
        return "read-only" if self.read_only else ""

    def open_session(self, session: str) -> None:
        self.push_screen(JobsScreen(session))

    def action_sessions(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if isinstance(self.screen, JobsScreen):
            self.pop_screen()

    def action_help(self) -> None:
        self.push_screen(HelpScreen([("Table", JobTable.BINDINGS), ("Log view", LogScreen.BINDINGS)]))

    def action_command_line(self) -> None:
        self.push_screen(CommandScreen(), self._run_command)

    async def _run_command(self, text: str | None) -> None:
        """`:validate`, `:q`, `:logs`, `:filter state:failed` ... as k9s users type them."""
        if not text:
            return
        name, _, rest = text.strip().lstrip(":").partition(" ")
        if name in ("q", "quit", "q!"):
            self.exit()
            return
        if name == "filter" and isinstance(self.screen, JobsScreen):
            self.screen.action_filter()
            self.screen.query_one("#filter", Input).value = rest
            return
        key = by_command(name)
        if key is None:
            self.notify(f"unknown command :{name} (press ? for every command)", severity="warning")
            return
        await self.screen.run_action(key.action) if not key.id.startswith("app.") else await self.run_action(
            key.action
        )
