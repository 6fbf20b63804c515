"""The virtual table's pure model: keyed rows, exact diffs, order, filter, groups, cursor and marks.

It knows nothing about jobs or Textual. Every operation is a few dict lookups per changed row so a
live table of 10,000 rows can be updated at every poll; the visible order is rebuilt only when the
structure, the sort or the filter made it stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import ne
from typing import Any, Literal, NamedTuple


@dataclass(frozen=True, slots=True)
class Column:
    """A column of fixed width: updates never re-measure."""

    key: str
    label: str
    width: int
    align: Literal["left", "right"] = "left"


class TableRow(NamedTuple):
    """One line of the table; `parent` names the group row it folds under (one level of grouping).
    A named tuple: thousands are built and compared at each refresh, which a tuple does in C."""

    key: str
    cells: tuple[str, ...]
    style: str = ""
    parent: str | None = None
    sort_keys: tuple[Any, ...] | None = None
    search_text: str | None = None


@dataclass(frozen=True, slots=True)
class Diff:
    """What `set_rows` changed. `changed` names every row that differs, with the columns whose text
    changed (empty when only its style, sort keys, search text or parent changed)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: dict[str, frozenset[int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def _first_duplicate(rows: Iterable[TableRow]) -> str | None:
    seen: set[str] = set()
    for row in rows:
        if row.key in seen:
            return row.key
        seen.add(row.key)
    return None


def _haystack(row: TableRow) -> str:
    return (row.search_text if row.search_text is not None else " ".join(row.cells)).lower()


class TableModel:
    """Rows in insertion ("natural") order, shown sorted, filtered and folded, with a cursor kept by key."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = tuple(columns)
        self._column_index = {column.key.lower(): i for i, column in enumerate(self.columns)}
        if len(self._column_index) != len(self.columns):
            raise ValueError("column keys must be unique (case-insensitively)")
        self._rows: dict[str, TableRow] = {}
        self._hay: dict[str, str] = {}
        self._column_sets: dict[tuple[int, ...], frozenset[int]] = {}  # one shared set per combination
        self._top: list[str] = []
        self._children: dict[str, list[str]] = {}
        self._top_order: list[str] = []
        self._child_order: dict[str, list[str]] = {}
        self._structure_stale = False
        self._order_stale = False
        self._sort_column: int | None = None
        self._reverse = False
        self._sort_values: dict[str, tuple[bool, Any]] = {}
        self._filter_text = ""
        self._terms: list[tuple[int | None, str]] = []
        self._matches: set[str] | None = None
        self._expanded: set[str] = set()
        self._folded: set[str] = set()  # groups the user folded while the filter unfolds them
        self._open: set[str] = set()
        self._marked: set[str] = set()
        self._visible: list[str] | None = []
        self._position: dict[str, int] = {}
        self._generation = 0
        self._cursor_key: str | None = None
        self._cursor_index = 0

    # --- rows -------------------------------------------------------------------------------

    def set_rows(self, rows: Iterable[TableRow]) -> Diff:
        """Replace the whole row set and say exactly what differs; an unchanged row costs an identity
        check when it is the same object as before, else one comparison."""
        rows = list(rows)
        incoming = {row.key: row for row in rows}
        if len(incoming) != len(rows):
            raise ValueError(f"duplicate row key {_first_duplicate(rows)!r}")
        current = self._rows
        width = len(self.columns)
        pending: list[tuple[str, TableRow, TableRow | None]] = []
        new = 0
        for key, row in incoming.items():
            before = current.get(key)
            if before is not row and before != row:
                if len(row.cells) != width:
                    raise ValueError(f"row {key!r} has {len(row.cells)} cells for {width} columns")
                pending.append((key, row, before))
                new += before is None
        kept = len(incoming) - new  # rows of the current set that come again: when all do, none went
        removed = () if kept == len(current) else tuple(key for key in current if key not in incoming)
        for key in removed:
            self._forget(key)
        added: list[str] = []
        changed: dict[str, frozenset[int]] = {}
        structure = bool(removed)
        reorder = False
        refilter = False
        column = self._sort_column
        filtered = self._matches is not None
        hay, sort_values, column_sets = self._hay, self._sort_values, self._column_sets
        indexes = range(width)
        for key, row, before in pending:
            current[key] = row
            if before is None or row.search_text is None or row.search_text != before.search_text:
                hay[key] = _haystack(row)
            if filtered:
                refilter |= self._rematch(key)
            if column is not None:
                value = self._sort_value(row, column)
                reorder |= sort_values.get(key) != value
                sort_values[key] = value
            if before is None:
                added.append(key)
                structure = True
                continue
            # the indexes of the cells that differ from the row's last cells, compared in C
            found = tuple(compress(indexes, map(ne, before.cells, row.cells)))
            changed[key] = column_sets.get(found) or column_sets.setdefault(found, frozenset(found))
            structure |= before.parent != row.parent
        if structure:
            self._structure_stale = True
        if reorder:
            self._order_stale = True
        if structure or reorder or refilter:
            self._visible = None
        return Diff(tuple(added), removed, changed)

    def _forget(self, key: str) -> None:
        del self._rows[key]
        del self._hay[key]
        self._sort_values.pop(key, None)
        for keys in (self._marked, self._expanded, self._folded):
            keys.discard(key)
        if self._matches is not None:
            self._matches.discard(key)

    def row(self, key: str) -> TableRow:
        return self._rows[key]

    def __len__(self) -> int:
        return len(self._rows)

    # --- order --------------------------------------------------------------------------------

    def sort(self, column_key: str | None, reverse: bool = False) -> None:
        """Sort by a column's sort keys (None last in both directions); None restores the natural order."""
        if column_key is None:
            self._sort_column, self._reverse = None, False
            self._sort_values = {}
        else:
            column = self._sort_column = self._column_index[column_key.lower()]
            self._reverse = reverse
            self._sort_values = {key: self._sort_value(row, column) for key, row in self._rows.items()}
        self._order_stale = True
        self._visible = None

    @property
    def sort_column(self) -> str | None:
        return None if self._sort_column is None else self.columns[self._sort_column].key

    @property
    def sort_reverse(self) -> bool:
        return self._reverse

    def _sort_value(self, row: TableRow, column: int) -> tuple[bool, Any]:
        value = row.cells[column] if row.sort_keys is None else row.sort_keys[column]
        return ((value is None) != self._reverse, value)

    def _ordered(self, keys: list[str]) -> list[str]:
        if self._sort_column is None:
            return keys
        return sorted(keys, key=self._sort_values.__getitem__, reverse=self._reverse)

    # --- filter -------------------------------------------------------------------------------

    def filter(self, text: str) -> None:
        """Keep rows matching every word: `column:value` looks in that column, a plain word in the
        search text (case-insensitive substrings). A group shows when it or any child matches."""
        terms: list[tuple[int | None, str]] = []
        for word in text.lower().split():
            name, colon, value = word.partition(":")
            column = self._column_index.get(name) if colon else None
            terms.append((column, word if column is None else value))
        self._filter_text = text
        self._terms = terms
        self._folded.clear()
        self._matches = set(self._matching(self._rows)) if terms else None
        self._visible = None

    @property
    def filter_text(self) -> str:
        return self._filter_text

    def _matching(self, keys: Iterable[str]) -> list[str]:
        rows, hay = self._rows, self._hay
        found = list(keys)
        for column, value in self._terms:
            if column is None:
                found = [key for key in found if value in hay[key]]
            else:
                found = [key for key in found if value in rows[key].cells[column].lower()]
        return found

    def _rematch(self, key: str) -> bool:
        """Refresh one row's filter match; True when that changes what is visible."""
        matches = self._matches
        if matches is None:
            return False
        now = bool(self._matching((key,)))
        if now == (key in matches):
            return False
        if now:
            matches.add(key)
        else:
            matches.discard(key)
        return True

    # --- groups -------------------------------------------------------------------------------

    def is_group(self, key: str) -> bool:
        self._ensure()
        return key in self._children

    def is_expanded(self, key: str) -> bool:
        self._ensure()
        return key in self._open

    def depth(self, key: str) -> int:
        """1 for a row shown inside its group, else 0."""
        self._ensure()
        parent = self._rows[key].parent
        return int(parent is not None and parent in self._children)

    def toggle(self, key: str) -> bool:
        """Expand or collapse a group; False when `key` is not a group."""
        if not self.is_group(key):
            return False
        if key in self._open:
            self._expanded.discard(key)
            if self._matches is not None:
                self._folded.add(key)
        else:
            self._expanded.add(key)
            self._folded.discard(key)
        self._visible = None
        return True

    # --- marks --------------------------------------------------------------------------------

    @property
    def marked(self) -> frozenset[str]:
        return frozenset(self._marked)

    def is_marked(self, key: str) -> bool:
        return key in self._marked

    def toggle_mark(self, key: str) -> bool:
        """Mark or unmark a row; returns whether it is now marked."""
        if key not in self._rows:
            raise KeyError(f"no row {key!r} to mark")
        if key in self._marked:
            self._marked.discard(key)
            return False
        self._marked.add(key)
        return True

    def clear_marks(self) -> None:
        self._marked.clear()

    # --- visible order and cursor -------------------------------------------------------------

    @property
    def visible(self) -> Sequence[str]:
        """Keys in display order (do not mutate)."""
        self._ensure()
        assert self._visible is not None
        return self._visible

    @property
    def generation(self) -> int:
        """Bumped whenever the visible order is rebuilt, so a view knows when to repaint everything."""
        self._ensure()
        return self._generation

    def index_of(self, key: str) -> int | None:
        self._ensure()
        return self._position.get(key)

    @property
    def cursor_key(self) -> str | None:
        self._ensure()
        return self._cursor_key

    @property
    def cursor_index(self) -> int:
        self._ensure()
        return self._cursor_index

    def cursor_to(self, index: int) -> str | None:
        """Put the cursor on the visible row at `index` (clamped)."""
        visible = self.visible
        if visible:
            self._cursor_index = min(max(index, 0), len(visible) - 1)
            self._cursor_key = visible[self._cursor_index]
        return self._cursor_key

    def move_cursor(self, delta: int) -> str | None:
        return self.cursor_to(self.cursor_index + delta)

    def _ensure(self) -> None:
        if self._structure_stale:
            self._rebuild_structure()
        if self._order_stale:
            self._top_order = self._ordered(self._top)
            self._child_order = {key: self._ordered(kids) for key, kids in self._children.items()}
            self._order_stale = False
        if self._visible is None:
            self._rebuild_visible()

    def _rebuild_structure(self) -> None:
        rows = self._rows
        top: list[str] = []
        children: dict[str, list[str]] = {}
        for key, row in rows.items():
            parent = row.parent
            if parent is not None and parent in rows and rows[parent].parent is None:
                children.setdefault(parent, []).append(key)
            else:
                top.append(key)
        self._top, self._children = top, children
        self._structure_stale = False
        self._order_stale = True

    def _rebuild_visible(self) -> None:
        if self._matches is None and not self._expanded:
            visible, opened = self._top_order, set[str]()  # shared: orders are replaced, never mutated
        else:
            visible, opened = self._unfold()
        self._visible, self._open = visible, opened
        self._position = {key: i for i, key in enumerate(visible)}
        self._generation += 1
        if self._cursor_key in self._position:
            self._cursor_index = self._position[self._cursor_key]
        elif visible:
            self._cursor_index = min(max(self._cursor_index, 0), len(visible) - 1)
            self._cursor_key = visible[self._cursor_index]
        else:
            self._cursor_key, self._cursor_index = None, 0

    def _unfold(self) -> tuple[list[str], set[str]]:
        """Top-level rows with the children of open groups after each; the filter opens groups
        with matching children unless the user folded them."""
        matches = self._matches
        visible: list[str] = []
        opened: set[str] = set()
        for key in self._top_order:
            kids = self._child_order.get(key, ())
            if matches is None:
                shown, is_open = kids, key in self._expanded
            else:
                shown = [kid for kid in kids if kid in matches]
                if key not in matches and not shown:
                    continue
                is_open = key not in self._folded
            visible.append(key)
            if shown and is_open:
                opened.add(key)
                visible.extend(shown)
        return visible, opened
