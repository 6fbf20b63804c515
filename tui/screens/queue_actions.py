"""What the keys of "My jobs" do: logs, cancel, adopt, the column picker. Destructive ones ask
first; every outside call has a timeout and every failure is shown."""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from textual import work

from monitor.errors import BackendUnavailable, JobdeckError
from monitor.log_tail import chunk_reader
from monitor.protocols import Backend
from monitor.queue import QueueEntry
from tui.adopt_jobs import adopt
from tui.config import config_path
from tui.config_write import save_queue_columns
from tui.queue_row_cache import QueueRowCache
from tui.queue_source import QueueFeed
from tui.screens.columns_screen import ColumnsScreen
from tui.screens.confirm_screen import ConfirmScreen
from tui.screens.filter_screen import FilterScreen
from tui.screens.log_screen import LogScreen
from tui.screens.log_source import LogAttempt, LogSource

ACTION_TIMEOUT = 120.0
"""The longest a cancel or an adoption on one cluster may take."""

ADOPTED_SESSION = "adopted"


def by_cluster(entries: Sequence[QueueEntry]) -> dict[str, list[QueueEntry]]:
    grouped: dict[str, list[QueueEntry]] = {}
    for entry in entries:
        grouped.setdefault(entry.cluster, []).append(entry)
    return grouped


def listing(entries: Sequence[QueueEntry], limit: int = 50) -> str:
    lines = [f"{e.cluster}/{e.job_id}  {e.name}  {e.state.value}" for e in entries[:limit]]
    if len(entries) > limit:
        lines.append(f"... and {len(entries) - limit} more")
    return "\n".join(lines)


class QueueActions(FilterScreen):
    """The keys of QueueScreen, on what it declares here."""

    feed: QueueFeed | None
    row_cache: QueueRowCache

    @abstractmethod
    def selected_entries(self) -> list[QueueEntry]:
        """Marked rows, else the cursor row; an array's row means every task."""

    @abstractmethod
    async def refresh_queue(self) -> None:
        """List the queue again and show it."""

    @abstractmethod
    def apply_columns(self, keys: list[str]) -> None:
        """Show these columns."""

    def _chosen(self, what: str, writes: bool = False) -> tuple[QueueFeed, list[QueueEntry]] | None:
        entries = self.selected_entries()
        if writes and self.app.read_only:
            self.notify(f"read-only: {what} is disabled", severity="warning")
            return None
        if self.feed is None or not entries:
            self.notify(f"{what}: no job selected", severity="warning")
            return None
        return self.feed, entries

    async def _each_cluster(
        self,
        what: str,
        feed: QueueFeed,
        entries: Sequence[QueueEntry],
        act: Callable[[str, Backend, list[str]], Awaitable[None]],
    ) -> None:
        """`act` once per cluster with its backend and the IDs of its entries, each within the
        timeout; a cluster that fails is said and the others still go on."""
        for cluster, group in by_cluster(entries).items():
            backend = feed.backends.get(cluster)
            try:
                if backend is None:
                    raise BackendUnavailable(f"{cluster}: not connected")
                await asyncio.wait_for(act(cluster, backend, [e.job_id for e in group]), ACTION_TIMEOUT)
            except (TimeoutError, JobdeckError) as exc:
                self.notify(f"{cluster}: {what} failed: {exc or 'no answer'}", severity="error", timeout=15)

    # -- keys -------------------------------------------------------------------------------

    def action_logs(self) -> None:
        chosen = self._chosen("logs")
        if chosen is None:
            return
        feed, entries = chosen
        entry = entries[0]
        if entry.log_path is None:
            self.notify(
                f"{entry.cluster}/{entry.job_id}: the scheduler gives no log path", severity="warning"
            )
            return
        backend = feed.backends.get(entry.cluster)
        if backend is None:
            self.notify(f"{entry.cluster}: not connected", severity="error")
            return
        err = entry.err_path if entry.err_path != entry.log_path else None
        source = LogSource(
            f"{entry.name} ({entry.job_id}) on {entry.cluster}",
            [LogAttempt(1, entry.job_id, entry.log_path, err)],
            backend.read_bytes,
            read_chunk=chunk_reader(backend.read_many),
        )
        self.app.push_screen(LogScreen(source))

    @work(group="action")
    async def action_cancel(self) -> None:
        chosen = self._chosen("cancel", writes=True)
        if chosen is None:
            return
        feed, entries = chosen
        live = [e for e in entries if not e.finished]
        if not live:
            self.notify("cancel: the selected jobs have already ended", severity="warning")
            return
        if not await self.app.push_screen_wait(
            ConfirmScreen(f"Cancel {len(live)} job(s)?", listing(live), "Cancel jobs")
        ):
            return

        async def cancel(cluster: str, backend: Backend, ids: list[str]) -> None:
            await backend.cancel(ids)
            self.notify(
                f"{cluster}: cancel sent for {', '.join(ids[:10])}" + (" ..." if len(ids) > 10 else "")
            )

        await self._each_cluster("cancel", feed, live, cancel)
        await self.refresh_queue()

    @work(group="action")
    async def action_adopt(self) -> None:
        chosen = self._chosen("adopt", writes=True)
        if chosen is None:
            return
        feed, entries = chosen
        fresh = [e for e in entries if e.session is None]
        for entry in entries:
            if entry.session is not None:
                self.notify(
                    f"{entry.cluster}/{entry.job_id} is already in session {entry.session}",
                    severity="warning",
                )
        if not fresh:
            return
        title = f"Adopt {len(fresh)} job(s) into session `{ADOPTED_SESSION}`?"
        if not await self.app.push_screen_wait(ConfirmScreen(title, listing(fresh), "Adopt")):
            return

        async def adopt_on(cluster: str, backend: Backend, ids: list[str]) -> None:
            now = self.app.clock()
            configured = self.app.config.adopted_outputs  # [adopted.NAME] outputs, as jobdeck adopt
            report = await adopt(
                self.app.store,
                feed.clusters[cluster],
                backend,
                ids,
                ADOPTED_SESSION,
                now,
                configured=configured,
            )
            for line in report.lines():
                self.notify(line, timeout=10)

        await self._each_cluster("adopt", feed, fresh, adopt_on)
        feed.forget_sessions()
        await self.refresh_queue()

    @work(group="action")
    async def action_pick_columns(self) -> None:
        config = self.app.config
        shown = [c.key for c in self.row_cache.columns]
        keys = await self.app.push_screen_wait(ColumnsScreen(shown))
        if keys is None:
            return
        path = config.path or config_path()
        try:
            save_queue_columns(path, keys)
        except JobdeckError as exc:
            self.notify(str(exc), severity="error", timeout=15)
        else:
            self.notify(f"columns saved in {path}")
        self.app.config = replace(config, columns=tuple(keys), path=path)
        self.apply_columns(keys)
