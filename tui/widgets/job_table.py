"""A virtual table that stays instant at 10,000 rows: it paints only the lines on screen.

Textual's DataTable measures and stores every cell (2.4 s to add 10,000 rows); this widget keeps
rows in a `TableModel`, renders each visible line on demand with `render_line`, repaints only the
lines a diff touched and briefly highlights the cells whose text changed. It knows nothing about
jobs: the screen feeds it `TableRow`s.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from time import monotonic
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from tui.widgets.table_model import Column, Diff, TableModel, TableRow

FLASH_SECONDS = 1.5
"""How long a cell whose text changed stays highlighted."""

_GUTTER = 2  # the mark column before the first cell
_CHILD_INDENT = "    "


def _fit(text: str, width: int, align: str) -> str:
    """Pad or cut (with an ellipsis) to exactly `width` cells."""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    padding = " " * (width - length)
    return padding + text if align == "right" else text + padding


class TableMessage(Message):
    """A message from a JobTable; `control` lets handlers pick one table with `@on(..., "#id")`."""

    def __init__(self, table: JobTable) -> None:
        super().__init__()
        self.table = table

    @property
    def control(self) -> JobTable:
        return self.table


class JobTable(ScrollView, can_focus=True):
    """Keyed rows with a fixed header, a cursor kept by key, marks, foldable groups, sort and filter."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="table.cursor_up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="table.cursor_down"),
        Binding("pageup", "cursor_page_up", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "cursor_page_down", "Page down", show=False, id="table.page_down"),
        Binding("home,g", "cursor_first", "First", show=False, id="table.first"),
        Binding("end,G", "cursor_last", "Last", show=False, id="table.last"),
        Binding("enter", "activate", "Open", id="table.activate"),
        Binding("space", "toggle_mark", "Mark", id="table.toggle_mark"),
        Binding("o", "cycle_sort", "Sort", id="table.cycle_sort"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "job-table--header",
        "job-table--cursor",
        "job-table--changed",
        "job-table--mark",
    }

    DEFAULT_CSS = """
    JobTable {
        height: 1fr;
        & > .job-table--header { background: $panel; text-style: bold; }
        & > .job-table--cursor { background: $primary-muted; }
        &:focus > .job-table--cursor { background: $block-cursor-background; text-style: bold; }
        & > .job-table--changed { background: $warning-muted; text-style: bold; }
        & > .job-table--mark { color: $accent; text-style: bold; }
    }
    """

    class CursorMoved(TableMessage):
        """The cursor landed on another row (by a key, a click or an update); None when empty."""

        def __init__(self, table: JobTable, key: str | None) -> None:
            super().__init__(table)
            self.key = key

    class RowActivated(TableMessage):
        """Enter was pressed on a row."""

        def __init__(self, table: JobTable, key: str) -> None:
            super().__init__(table)
            self.key = key

    class MarksChanged(TableMessage):
        """The set of marked rows changed (by the user or because marked rows went away)."""

        def __init__(self, table: JobTable, keys: frozenset[str]) -> None:
            super().__init__(table)
            self.keys = keys

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._use_columns(columns)
        self._cursor_key: str | None = None
        self._cursor_line = 0
        self._flashes: dict[str, tuple[frozenset[int], float]] = {}
        self._flash_timer: Timer | None = None

    # --- public API ---------------------------------------------------------------------------

    @property
    def cursor_key(self) -> str | None:
        return self._model.cursor_key

    @property
    def marked(self) -> frozenset[str]:
        return self._model.marked

    @property
    def row_count_visible(self) -> int:
        return len(self._model.visible)

    def update_rows(self, rows: Iterable[TableRow]) -> Diff:
        """Show exactly `rows`: repaint only what the diff touched and highlight changed cells."""
        marks_before = len(self._model.marked)
        diff = self._model.set_rows(rows)
        for key in diff.removed:
            self._flashes.pop(key, None)
        deadline = monotonic() + FLASH_SECONDS
        flashes = self._flashes
        for key, columns in diff.changed.items():
            if columns:
                flashing = flashes.get(key)
                flashes[key] = (columns if flashing is None else columns | flashing[0], deadline)
        if self._flashes and self._flash_timer is None:
            self._flash_timer = self.set_interval(0.25, self._expire_flashes)
        self._sync(diff.changed)
        if len(self._model.marked) != marks_before:
            self.post_message(self.MarksChanged(self, self._model.marked))
        return diff

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Other columns: the rows, marks, sort and filter start over (the screen gives them again)."""
        self._use_columns(columns)
        self._flashes.clear()
        self._sync()

    def _use_columns(self, columns: Sequence[Column]) -> None:
        self._model = TableModel(columns)
        self._line_width = _GUTTER + sum(column.width for column in columns) + len(columns) - 1
        self._generation = -1

    def sort_by(self, column_key: str | None, reverse: bool = False) -> None:
        """Sort by a column (None: the order rows were first given in); the header shows ▲ or ▼."""
        self._model.sort(column_key, reverse)
        self._sync()

    def set_filter(self, text: str) -> None:
        """Show only matching rows: plain words search the row, `column:value` one column."""
        self._model.filter(text)
        self._sync()

    def clear_marks(self) -> None:
        if self._model.marked:
            self._model.clear_marks()
            self.refresh()
            self.post_message(self.MarksChanged(self, frozenset()))

    # --- actions ------------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self._move_cursor(-1)

    def action_cursor_down(self) -> None:
        self._move_cursor(1)

    def action_cursor_page_up(self) -> None:
        self._move_cursor(-self._rows_in_view)

    def action_cursor_page_down(self) -> None:
        self._move_cursor(self._rows_in_view)

    def action_cursor_first(self) -> None:
        self._move_cursor(-len(self._model.visible))

    def action_cursor_last(self) -> None:
        self._move_cursor(len(self._model.visible))

    def action_activate(self) -> None:
        """Fold or unfold a group, and tell the screen which row was chosen."""
        key = self._model.cursor_key
        if key is None:
            return
        if self._model.toggle(key):
            self._sync()
        self.post_message(self.RowActivated(self, key))

    def action_toggle_mark(self) -> None:
        key = self._model.cursor_key
        if key is None:
            return
        self._model.toggle_mark(key)
        self._refresh_rows((self._model.cursor_index,))
        self.post_message(self.MarksChanged(self, self._model.marked))

    def action_cycle_sort(self) -> None:
        """Step through natural order, then each column ascending and descending."""
        model = self._model
        keys = [column.key for column in model.columns]
        if model.sort_column is None:
            self.sort_by(keys[0])
        elif not model.sort_reverse:
            self.sort_by(model.sort_column, reverse=True)
        else:
            following = keys.index(model.sort_column) + 1
            self.sort_by(keys[following] if following < len(keys) else None)

    def _move_cursor(self, delta: int) -> None:
        self._model.move_cursor(delta)
        self._sync(follow=True)

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        index = self.scroll_offset.y + offset.y - 1
        if index < len(self._model.visible):
            self._model.cursor_to(index)
            self._sync(follow=True)

    # --- painting -----------------------------------------------------------------------------

    @property
    def _rows_in_view(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _sync(self, touched: Collection[str] = (), follow: bool = False) -> None:
        """Bring the screen in line with the model: all lines if the order changed, else the touched ones.
        The view follows the cursor when it moved (not when the user merely scrolled away from it)."""
        model = self._model
        if model.generation != self._generation:
            self._generation = model.generation
            self.virtual_size = Size(self._line_width, len(model.visible) + 1)
            self.refresh()
        elif touched:
            self._refresh_keys(touched)
        index, key = model.cursor_index, model.cursor_key
        moved = index != self._cursor_line or key != self._cursor_key
        if index != self._cursor_line:
            self._refresh_rows((self._cursor_line, index))
            self._cursor_line = index
        if moved or follow:
            self._scroll_to_cursor()
        if key != self._cursor_key:
            self._cursor_key = key
            self.post_message(self.CursorMoved(self, key))

    def _refresh_rows(self, indexes: Iterable[int]) -> None:
        """Repaint the rows that are on screen (a refresh elsewhere would cost for nothing)."""
        top = self.scroll_offset.y
        on_screen = range(top, top + self._rows_in_view)
        for index in indexes:
            if index in on_screen:
                self.refresh_line(index + 1)

    def _refresh_keys(self, keys: Collection[str]) -> None:
        """Repaint the rows on screen whose key is among `keys` (a screenful of lookups, however
        many rows changed)."""
        top, visible = self.scroll_offset.y, self._model.visible
        for index in range(top, min(top + self._rows_in_view, len(visible))):
            if visible[index] in keys:
                self.refresh_line(index + 1)

    def _scroll_to_cursor(self) -> None:
        index, top, rows = self._model.cursor_index, self.scroll_offset.y, self._rows_in_view
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + rows:
            self.scroll_to(y=index - rows + 1, animate=False)

    def _expire_flashes(self) -> None:
        now = monotonic()
        expired = {key for key, (_, deadline) in self._flashes.items() if deadline <= now}
        for key in expired:
            del self._flashes[key]
        self._refresh_keys(expired)
        if not self._flashes and self._flash_timer is not None:
            self._flash_timer.stop()
            self._flash_timer = None

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        visible = self._model.visible
        if y == 0:
            strip, fill = self._header_strip()
        elif (index := scroll_y + y - 1) < len(visible):
            strip, fill = self._row_strip(visible[index], index == self._model.cursor_index, base)
        else:
            return Strip.blank(self.size.width, base)
        return strip.crop_extend(scroll_x, scroll_x + self.size.width, fill)

    def _header_strip(self) -> tuple[Strip, Style]:
        style = self.get_component_rich_style("job-table--header")
        model = self._model
        labels = []
        for column in model.columns:
            label = column.label
            if column.key == model.sort_column:
                label += " ▼" if model.sort_reverse else " ▲"
            labels.append(_fit(label, column.width, column.align))
        return Strip([Segment(" " * _GUTTER + " ".join(labels), style)], self._line_width), style

    def _row_strip(self, key: str, is_cursor: bool, base: Style) -> tuple[Strip, Style]:
        """The whole row, and the style that fills the line beyond it (so the cursor bar spans it)."""
        model = self._model
        row = model.row(key)
        style = base + Style.parse(row.style) if row.style else base
        if is_cursor:
            style += self.get_component_rich_style("job-table--cursor", partial=True)
        if model.is_marked(key):
            mark = Segment("● ", style + self.get_component_rich_style("job-table--mark", partial=True))
        else:
            mark = Segment(" " * _GUTTER, style)
        if model.is_group(key):
            prefix = "▾ " if model.is_expanded(key) else "▸ "
        else:
            prefix = _CHILD_INDENT * model.depth(key)
        changed = self._flashes.get(key, (frozenset(), 0.0))[0]
        flash = self.get_component_rich_style("job-table--changed", partial=True) if changed else style
        segments = [mark]
        for i, (column, text) in enumerate(zip(model.columns, row.cells, strict=True)):
            if i:
                segments.append(Segment(" ", style))
            cell = _fit(prefix + text if i == 0 else text, column.width, column.align)
            segments.append(Segment(cell, style + flash if i in changed else style))
        return Strip(segments, self._line_width), style
