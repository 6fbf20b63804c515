"""The log of one job attempt, followed live (k9s-style keys): local or over SSH, only new bytes travel.

One worker per shown log polls its LogTail about every second; awaiting each poll before sleeping
means polls never overlap, and the worker dies with the screen or when another log is chosen. The
worker only posts what it read: a screen being closed drops the message instead of touching removed
widgets, and a generation number drops what a replaced worker read just before it was cancelled.
"""

from __future__ import annotations

import asyncio
import time

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer

from monitor.errors import BackendUnavailable, JobdeckError
from monitor.log_tail import LogTail, TailBatch
from tui.screens.log_source import STREAMS, LogAttempt, LogSource
from tui.widgets.log_view import LogView

TAIL_GROUP = "log-tail"


class TailUpdate(Message):
    """From the tail worker: a batch to show (after `notice`, if any) and the problem line (None: no
    problem)."""

    def __init__(
        self,
        generation: int,
        problem: str | None,
        batch: TailBatch | None = None,
        read_at: float | None = None,
        notice: str | None = None,
    ) -> None:
        super().__init__()
        self.generation = generation
        self.problem = problem
        self.batch = batch
        self.read_at = read_at
        self.notice = notice


class LogScreen(Screen[None]):
    """Follows the current attempt's stdout first; `o`, `p` and `P` choose another log."""

    DEFAULT_CSS = """
    LogScreen.-fullscreen {
        Footer, #log-title, #log-status { display: none; }
    }
    """

    BINDINGS = [
        Binding("o", "toggle_stream", "stdout/stderr", id="log.stream"),
        Binding("p", "attempt(-1)", "Older attempt", id="log.older_attempt"),
        Binding("P", "attempt(1)", "Newer attempt", id="log.newer_attempt"),
        Binding("w", "wrap", "Wrap", id="log.wrap"),
        Binding("t", "timestamps", "Timestamps", id="log.timestamps"),
        Binding("slash", "search", "Search", id="log.search"),
        Binding("n", "find(True)", "Next match", id="log.next_match"),
        Binding("N", "find(False)", "Previous match", id="log.previous_match"),
        Binding("0,G,end", "tail", "Tail", id="log.tail"),
        Binding("f", "fullscreen", "Full screen", id="log.fullscreen"),
        Binding("escape", "back", "Back", id="log.back"),
    ]

    def __init__(self, source: LogSource, *, poll_interval: float = 1.0) -> None:
        if not source.attempts:
            raise ValueError(f"no attempt to show the log of for {source.title}")
        super().__init__()
        self.source = source
        self.poll_interval = poll_interval
        self.attempt_index = len(source.attempts) - 1
        self.stream = "stdout"
        self._generation = 0  # which worker's updates are shown

    def compose(self) -> ComposeResult:
        yield LogView()
        yield Footer()

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    @property
    def attempt(self) -> LogAttempt:
        return self.source.attempts[self.attempt_index]

    @property
    def path(self) -> str | None:
        return self.attempt.path(self.stream)

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        """Start following the chosen attempt and stream (the previous worker is cancelled)."""
        attempt, path = self.attempt, self.path
        self._generation += 1
        self.view.clear()
        self.view.set_title(
            f"{self.source.title} · attempt {attempt.number} ({self.attempt_index + 1} of "
            f"{len(self.source.attempts)}) · job {attempt.job_id or '-'} · {self.stream} · {path or '-'}"
        )
        if path is None:
            self.workers.cancel_group(self, TAIL_GROUP)
            self.view.show_message(f"no {self.stream} path is known for attempt {attempt.number} yet")
            return
        follow = self._follow(self._generation, attempt.number, self.stream, path)
        self.run_worker(follow, group=TAIL_GROUP, exclusive=True)

    async def _follow(self, generation: int, number: int, stream: str, path: str) -> None:
        source = self.source
        start = None
        if source.load_offset:
            try:
                start = await source.load_offset(number, stream)
            except JobdeckError as exc:  # show the tail instead, and say why
                why = f"--- cannot load the saved position ({exc}): showing the tail ---"
                self.post_message(TailUpdate(generation, None, notice=why))
        tail = LogTail(source.read, path, start_offset=start, read_chunk=source.read_chunk)
        saved = start
        caught_up = False  # lines read before the tail first caught up were already there: no read time
        while True:
            opening = not tail.is_open
            try:
                batch = await (tail.open() if opening else tail.poll())
            except (OSError, BackendUnavailable) as exc:
                self.post_message(TailUpdate(generation, self._problem(exc, path)))
            else:
                resumed = opening and start is not None and not batch.notices
                notice = (
                    f"--- continuing at byte {start:,}, where this log was last read ---" if resumed else None
                )
                self.post_message(
                    TailUpdate(generation, None, batch, time.time() if caught_up else None, notice)
                )
                caught_up = batch.behind == 0
                if source.save_offset and tail.offset != saved:
                    try:
                        await source.save_offset(number, stream, path, tail.offset)
                        saved = tail.offset
                    except JobdeckError as exc:
                        self.post_message(TailUpdate(generation, f"cannot save the log position: {exc}"))
                if batch.behind:
                    continue
            await asyncio.sleep(self.poll_interval)

    @on(TailUpdate)
    def _show_update(self, update: TailUpdate) -> None:
        if update.generation != self._generation:
            return
        self.view.show_message(update.problem)
        if update.notice:
            self.view.add_notice(update.notice)
        if update.batch is not None:
            self.view.add_batch(update.batch, update.read_at)

    @staticmethod
    def _problem(exc: Exception, path: str) -> str:
        if isinstance(exc, FileNotFoundError):
            return f"log not found: {path} (the job may not have started yet)"
        if isinstance(exc, PermissionError):
            return f"permission denied: {path}"
        if isinstance(exc, BackendUnavailable):
            return str(exc)  # names the host: "ssh login1: unreachable (...)"
        return f"cannot read {path}: {exc}"

    # -- actions

    def action_toggle_stream(self) -> None:
        other = STREAMS[1 - STREAMS.index(self.stream)]
        if self.attempt.path(other) is None and other == "stderr":
            self.notify("stderr goes to the stdout log for this attempt")
            return
        self.stream = other
        self._show()

    def action_attempt(self, step: int) -> None:
        index = self.attempt_index + step
        if not 0 <= index < len(self.source.attempts):
            self.notify(f"no {'older' if step < 0 else 'newer'} attempt")
            return
        self.attempt_index = index
        if self.attempt.path(self.stream) is None:
            self.stream = "stdout"
        self._show()

    def action_wrap(self) -> None:
        self.view.toggle_wrap()

    def action_timestamps(self) -> None:
        self.view.toggle_timestamps()

    def action_search(self) -> None:
        self.view.open_search()

    def action_find(self, forward: bool) -> None:
        self.view.find(forward)

    def action_tail(self) -> None:
        self.view.follow()

    def action_fullscreen(self) -> None:
        """Only the lines: no title, status or footer. (A split view beside the job table would hook
        in here.)"""
        self.toggle_class("-fullscreen")

    def action_back(self) -> None:
        if self.view.searching:
            self.view.close_search()
        else:
            self.dismiss()
