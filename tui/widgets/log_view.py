"""A log pane that follows a growing file: only the visible rows are rendered, so it keeps up with
100,000 lines; it follows new lines while the user is at the bottom and counts the ones they have not
seen when they scrolled away.

Lines arrive already made safe by monitor.log_tail (no escape sequences, controls escaped).
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from rich.cells import cell_len, chop_cells
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Label, Static

from monitor.log_tail import TailBatch

STAMP_WIDTH = len("00:00:00 ")


@dataclass(frozen=True, slots=True)
class LogLine:
    text: str  # tabs expanded
    read_at: float | None  # when it was read; None for lines that were already there
    notice: bool = False  # an event of the tail (truncation, skipped bytes), not a line of the file


def _wrap_starts(text: str, width: int) -> list[int]:
    """Character offsets where each row of `text` wrapped to `width` cells begins."""
    if text.isascii():  # one cell per character (controls arrive escaped)
        return list(range(0, len(text), width)) or [0]
    starts = [0]
    for piece in chop_cells(text, width)[:-1]:
        starts.append(starts[-1] + len(piece))
    return starts


def _row_count(text: str, width: int) -> int:
    if text.isascii():
        return max(1, -(-len(text) // width))
    return len(_wrap_starts(text, width))


class LogLines(ScrollView, can_focus=True):
    """The scrolling body of a LogView: a virtual view over `lines` plus an optional pending line."""

    COMPONENT_CLASSES = {"log-lines--stamp", "log-lines--notice", "log-lines--match", "log-lines--current"}
    DEFAULT_CSS = """
    LogLines {
        background: $surface;
        color: $text;
        overflow-y: scroll;
        overflow-x: auto;
        & > .log-lines--stamp { color: $text-muted; }
        & > .log-lines--notice { color: $warning; text-style: italic; }
        & > .log-lines--match { background: $warning 60%; color: $text; }
        & > .log-lines--current { background: $accent 30%; }
    }
    """

    wrap: reactive[bool] = reactive(False)
    timestamps: reactive[bool] = reactive(False)
    following: reactive[bool] = reactive(True)  # the user is at the bottom: new lines scroll into view
    unseen: reactive[int] = reactive(0)  # lines added below while not following

    def __init__(
        self, max_lines: int = 100_000, max_chars: int = 50_000_000, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self.max_chars = max_chars  # lines may be 64 KB each: memory is bounded by this too
        self._chars = 0
        self.lines: list[LogLine] = []
        self.pending: str | None = None
        self.pattern = ""
        self._dropped = 0  # lines pruned from the front: line i has the stable number _dropped + i
        self._current: int | None = None  # stable number of the current search match
        self._width = 0  # widest line, in cells
        self._row_starts: list[int] = [0]  # wrap mode: first row of each line, then the total
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(1024)

    # -- content

    def add(self, texts: Sequence[str], read_at: float | None = None, notice: bool = False) -> None:
        new = [LogLine(text.expandtabs(), read_at, notice) for text in texts]
        if not new:
            return
        self.lines.extend(new)
        self._chars += sum(len(line.text) for line in new)
        self._width = max(self._width, *(cell_len(line.text) for line in new))
        if self.wrap:
            total, width = self._row_starts.pop(), self._text_width
            self._row_starts.extend(accumulate((_row_count(line.text, width) for line in new), initial=total))
        if not self.following:
            self.unseen += len(new)
        self._prune()
        self._update_size()

    def set_pending(self, text: str | None) -> None:
        """The incomplete last line (a progress bar, a line being written), shown after the others."""
        text = None if text is None else text.expandtabs()
        if text != self.pending:
            self.pending = text
            self._update_size()
            self.refresh()

    def clear(self) -> None:
        self.lines.clear()
        self._chars = 0
        self.pending = None
        self._dropped = 0
        self._current = None
        self._width = 0
        self._row_starts = [0]
        self._cache.clear()
        self.unseen = 0
        self.following = True
        self._update_size()
        self.scroll_to(0, 0, animate=False)

    def _prune(self) -> None:
        """Once over max_lines or max_chars, drop the oldest lines down to 90% of both (so pruning
        is rare), keeping what the user looks at in place."""
        if len(self.lines) <= self.max_lines and self._chars <= self.max_chars:
            return
        count = 0
        while len(self.lines) - count > self.max_lines * 0.9 or self._chars > self.max_chars * 0.9:
            self._chars -= len(self.lines[count].text)
            count += 1
        removed_rows = self._row_of(count)
        del self.lines[:count]
        self._dropped += count
        if self.wrap:
            self._row_starts = [start - removed_rows for start in self._row_starts[count:]]
        self._cache.clear()
        if not self.following:
            self.scroll_to(y=max(0, self.scroll_y - removed_rows), animate=False)

    # -- geometry

    @property
    def _prefix_width(self) -> int:
        return STAMP_WIDTH if self.timestamps else 0

    @property
    def _text_width(self) -> int:
        """Cells available to a line's text when wrapping (80 before the first layout)."""
        return max(1, (self.scrollable_content_region.width or 80) - self._prefix_width)

    @property
    def _pending_rows(self) -> int:
        if self.pending is None:
            return 0
        return _row_count(self.pending, self._text_width) if self.wrap else 1

    def _row_of(self, index: int) -> int:
        return self._row_starts[index] if self.wrap else index

    def _line_at(self, row: int) -> int:
        return bisect_right(self._row_starts, row) - 1 if self.wrap else row

    def _rebuild_rows(self) -> None:
        if self.wrap:
            width = self._text_width
            self._row_starts = list(
                accumulate((_row_count(line.text, width) for line in self.lines), initial=0)
            )
        self._cache.clear()
        self._update_size()

    def _update_size(self) -> None:
        rows = self._row_of(len(self.lines)) + self._pending_rows
        width = self.scrollable_content_region.width if self.wrap else self._width + self._prefix_width
        self.virtual_size = Size(width, rows)
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def watch_wrap(self) -> None:
        self._rebuild_rows()

    def watch_timestamps(self) -> None:
        self._rebuild_rows()

    def on_resize(self, event: events.Resize) -> None:
        self._rebuild_rows()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.following = new_value >= self.max_scroll_y
        if self.following:
            self.unseen = 0

    def follow(self) -> None:
        """Jump to the last line and follow new ones."""
        self.following = True
        self.unseen = 0
        self.scroll_end(animate=False, immediate=True, x_axis=False)

    def action_scroll_end(self) -> None:
        self.follow()

    # -- search

    def matches(self, text: str) -> bool:
        if self.pattern.islower():
            return self.pattern in text.lower()
        return self.pattern in text  # smart case: a capital in the pattern makes it case-sensitive

    def find(self, forward: bool = True) -> int | None:
        """Make the next (or previous) line matching `pattern` current, wrapping around; scroll to it.
        Without a current match the search starts at the top of the view (forward) or its bottom.
        Returns its index, or None when no line matches."""
        if not self.pattern or not self.lines:
            return None
        count = len(self.lines)
        step = 1 if forward else -1
        origin = self.current_match
        if origin is None:
            row = int(self.scroll_y) + (0 if forward else self.size.height - 1)
            origin = min(self._line_at(row), count - 1) - step
        for distance in range(1, count + 1):
            index = (origin + step * distance) % count
            if self.matches(self.lines[index].text):
                self._current = self._dropped + index
                self._cache.clear()
                self.scroll_to(y=max(0, self._row_of(index) - self.size.height // 2), animate=False)
                self.refresh()
                return index
        return None

    def set_pattern(self, pattern: str) -> None:
        self.pattern = pattern
        self._current = None
        self._cache.clear()
        self.refresh()

    def match_rank(self) -> tuple[int, int]:
        """(position of the current match among the matching lines or 0, number of matching lines)."""
        flags = [self.matches(line.text) for line in self.lines] if self.pattern else []
        current = self.current_match
        return (sum(flags[: current + 1]) if current is not None else 0), sum(flags)

    @property
    def current_match(self) -> int | None:
        """Index in `lines` of the current match."""
        if self._current is None or self._current < self._dropped:
            return None
        return self._current - self._dropped

    # -- rendering

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        committed = self._row_of(len(self.lines))
        if row < committed:
            index = self._line_at(row)
            key = (self._dropped + index, row - self._row_of(index))
            strip = self._cache.get(key)
            if strip is None:
                strip = self._cache[key] = self._render_row(
                    self.lines[index], key[1], key[0] == self._current
                )
        elif self.pending is not None and row - committed < self._pending_rows:
            strip = self._render_row(LogLine(self.pending, None), row - committed, False)
        else:
            return Strip.blank(width, self.rich_style)
        return strip.crop_extend(
            0 if self.wrap else scroll_x, (0 if self.wrap else scroll_x) + width, self.rich_style
        )

    def _render_row(self, line: LogLine, part: int, current: bool) -> Strip:
        starts = _wrap_starts(line.text, self._text_width) if self.wrap else [0]
        begin = starts[part]
        end = starts[part + 1] if part + 1 < len(starts) else len(line.text)
        text = Text(line.text[begin:end], no_wrap=True, end="")
        if line.notice:
            text.stylize(self.get_component_rich_style("log-lines--notice"))
        if self.pattern and not line.notice:
            self._highlight(text, line.text, begin, end)
        if self.timestamps:
            stamp = (
                time.strftime("%H:%M:%S ", time.localtime(line.read_at)) if line.read_at and not part else ""
            )
            text = Text.assemble(
                (stamp.ljust(STAMP_WIDTH), self.get_component_rich_style("log-lines--stamp")), text
            )
        if current:
            text.stylize(self.get_component_rich_style("log-lines--current"))
        text.stylize_before(self.rich_style)
        return Strip(text.render(self.app.console), text.cell_len)

    def _highlight(self, text: Text, whole: str, begin: int, end: int) -> None:
        """Mark every occurrence of the pattern in whole[begin:end] (one row of a wrapped line)."""
        haystack = whole if not self.pattern.islower() else whole.lower()
        style = self.get_component_rich_style("log-lines--match")
        found = haystack.find(self.pattern, max(0, begin - len(self.pattern) + 1))
        while 0 <= found < end:
            text.stylize(style, max(0, found - begin), min(end, found + len(self.pattern)) - begin)
            found = haystack.find(self.pattern, found + 1)


class LogView(Vertical):
    """Title, message line, the lines, a "+N new lines" badge, a search box and a status line."""

    DEFAULT_CSS = """
    LogView {
        height: 1fr;
        #log-title { background: $primary-background; color: $text; text-style: bold; padding: 0 1; }
        #log-message { color: $error; padding: 0 1; display: none; }
        #log-message.-shown { display: block; }
        LogLines { height: 1fr; }
        #log-badge { margin-left: 2; padding: 0 1; background: $accent; color: $text; display: none; }
        #log-badge.-shown { display: block; }
        #log-search { display: none; }
        #log-search.-shown { display: block; }
        #log-status { color: $text-muted; padding: 0 1; }
    }
    """

    def __init__(self, max_lines: int = 100_000, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self.message = ""  # the problem shown above the lines, "" when none

    def compose(self) -> ComposeResult:
        yield Static(id="log-title", markup=False)
        yield Static(id="log-message", markup=False)
        yield LogLines(self.max_lines, id="log-lines")
        yield Label(id="log-badge")
        yield Input(placeholder="search (smart case); enter: find, escape: close", id="log-search")
        yield Static(id="log-status", markup=False)

    @property
    def body(self) -> LogLines:
        return self.query_one(LogLines)

    def on_mount(self) -> None:
        self.watch(self.body, "unseen", self._show_badge)
        for name in ("following", "wrap", "timestamps"):
            self.watch(self.body, name, self._show_status)
        self.body.focus()

    def set_title(self, title: str) -> None:
        self.query_one("#log-title", Static).update(title)

    def show_message(self, message: str | None) -> None:
        """A one-line problem (log missing, host unreachable) above the lines; None clears it."""
        if (message or "") == self.message:
            return
        self.message = message or ""
        widget = self.query_one("#log-message", Static)
        widget.update(self.message)
        widget.set_class(bool(message), "-shown")

    def add_batch(self, batch: TailBatch, read_at: float | None) -> None:
        self.body.add(batch.notices, read_at, notice=True)
        self.body.add(batch.lines, read_at)
        self.body.set_pending(batch.pending)
        if self.body.pattern and batch.lines:
            self._show_status()  # the match count changed

    def add_notice(self, text: str) -> None:
        self.body.add([text], notice=True)

    def clear(self) -> None:
        self.body.clear()
        self.show_message(None)
        self._show_status()

    def _show_badge(self, unseen: int) -> None:
        badge = self.query_one("#log-badge", Label)
        badge.update(f"+{unseen:,} new line{'s' if unseen != 1 else ''} (0: follow)")
        badge.set_class(unseen > 0, "-shown")

    def _show_status(self) -> None:
        body = self.body
        parts = [
            "following" if body.following else "paused",
            f"wrap {'on' if body.wrap else 'off'}",
            f"timestamps {'on' if body.timestamps else 'off'}",
        ]
        if body.pattern:
            rank, count = body.match_rank()
            parts.append(
                f"/{body.pattern}: {rank}/{count}" if rank else f"/{body.pattern}: {count} matching lines"
            )
        self.query_one("#log-status", Static).update(" · ".join(parts))

    # -- what the keys do (bound by the screen that holds the view)

    def toggle_wrap(self) -> None:
        self.body.wrap = not self.body.wrap

    def toggle_timestamps(self) -> None:
        self.body.timestamps = not self.body.timestamps

    def follow(self) -> None:
        self.body.follow()

    @property
    def searching(self) -> bool:
        return self.query_one("#log-search").has_class("-shown")

    def open_search(self) -> None:
        search = self.query_one("#log-search", Input)
        search.add_class("-shown")
        search.value = self.body.pattern
        search.focus()

    def close_search(self) -> None:
        self.query_one("#log-search", Input).remove_class("-shown")
        self.body.focus()

    @on(Input.Submitted, "#log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self.close_search()
        self.body.set_pattern(event.value)
        self.find(not self.body.following)  # while following, the most recent match first

    def find(self, forward: bool) -> None:
        """Jump to the next (or previous) match of the search pattern."""
        if self.body.pattern and self.body.find(forward) is None:
            self.app.notify(f"no line matches {self.body.pattern!r}", severity="warning")
        self._show_status()
