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
from tui.queue_source import QueueFeed
from tui.screens.columns_screen import ColumnsScreen
from tui.screens.command_screen import CommandScreen
from tui.screens.help_screen import HelpScreen
from tui.screens.jobs_screen import JobsScreen
from tui.screens.log_screen import LogScreen
from tui.screens.queue_screen import QueueScreen
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
        queue_feed: Callable[[], QueueFeed] | None = None,
    ) -> None:
        super().__init__()
        self.db = db
        self.start_session = session
        self.config = config or UserConfig()
        self.polling = polling
        self.clock = clock
        self.read_only = self.config.read_only if read_only is None else read_only
        self.store: SessionStore
        self._queue_feed = queue_feed  # tests give fixed entries; else the configured clusters

    async def on_load(self) -> None:
        self.set_keymap(self.config.keymap)

    async def on_mount(self) -> None:
        try:
            self.store = await SessionStore.open(self.db, read_only=self.read_only and self.db.exists())
        except JobdeckError as exc:
            self.exit(message=f"jobdeck: error: {exc}")
            return
        if self.start_session:
            await self.push_screen(SessionsScreen())
            self.open_session(self.start_session)
            return
        try:
            stored = await self.store.sessions()
        except JobdeckError as exc:
            self.notify(str(exc), severity="error")
            stored = []
        sessions = self.push_screen(SessionsScreen())
        if not stored:  # nothing of jobdeck's to show yet: the user's own queue, above the list
            self.push_screen(QueueScreen())  # at once: the list, no longer current, says nothing
        await sessions

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

    def action_my_jobs(self) -> None:
        """Back to My jobs if it is open beneath, else open it above the sessions list."""
        for index, screen in enumerate(self.screen_stack):
            if isinstance(screen, QueueScreen):
                while len(self.screen_stack) > index + 1:
                    self.pop_screen()
                return
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.push_screen(QueueScreen())

    def open_queue_feed(self) -> QueueFeed:
        """What My jobs lists: the config's clusters (else this machine's SLURM, the kubeconfig's
        context), backends opened once for the screen's life."""
        if self._queue_feed is not None:
            return self._queue_feed()
        from tui.queue_clusters import queue_clusters
        from tui.queue_source import QueueSource

        return QueueSource(queue_clusters(self.config), self.store, self.db.parent / "local-jobs")

    def action_help(self) -> None:
        extra = [
            ("Table", JobTable.BINDINGS),
            ("Log view", LogScreen.BINDINGS),
            ("Columns", ColumnsScreen.BINDINGS),
        ]
        self.push_screen(HelpScreen(extra))

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
        if name == "filter" and isinstance(self.screen, JobsScreen | QueueScreen):
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
