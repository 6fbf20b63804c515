"""The virtual table driven headless at 10,000 rows: what the screen shows after keys, sorts, filters,
folds and updates. Screen lines are read from the compositor, i.e. what a terminal would receive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.app import App, ComposeResult
from textual.message import Message
from textual.pilot import Pilot
from textual.strip import Strip

from tui.widgets.job_table import FLASH_SECONDS, JobTable
from tui.widgets.table_model import Column, TableRow

COLUMNS = (
    Column("name", "Name", 14),
    Column("state", "State", 10),
    Column("reason", "Reason", 10),
    Column("id", "ID", 7, align="right"),
)
STATES = ("RUNNING", "QUEUED", "FAILED", "SUCCEEDED")
SINGLES = 8_999
CHILDREN = 1_000
GROUP_INDEX = 5  # natural position of the array's summary row
SIZE = (80, 30)


def single(i: int, state: str | None = None) -> TableRow:
    state = state or STATES[i % 4]
    return TableRow(
        f"job{i}",
        (f"job-{i:05d}", state, "TIMEOUT" if state == "FAILED" else "", str(i)),
        style="red" if state == "FAILED" else "green",
        sort_keys=(f"job-{i:05d}", state, "", i),
    )


def ten_thousand() -> list[TableRow]:
    rows = [single(i) for i in range(SINGLES)]
    group = TableRow("arr", ("sweep", "RUNNING", "", "99999"), sort_keys=("sweep", "RUNNING", "", 99_999))
    rows.insert(GROUP_INDEX, group)
    rows += [
        TableRow(f"arr_{i}", (f"sweep[{i}]", "RUNNING", "", f"{i}"), parent="arr", sort_keys=("", "", "", i))
        for i in range(CHILDREN)
    ]
    assert len(rows) == 10_000
    return rows


class Host(App[None]):
    def __init__(self, rows: list[TableRow]) -> None:
        super().__init__()
        self.rows = rows
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield JobTable(COLUMNS)

    def on_mount(self) -> None:
        self.query_one(JobTable).update_rows(self.rows)

    def on_job_table_cursor_moved(self, message: JobTable.CursorMoved) -> None:
        self.messages.append(message)

    def on_job_table_row_activated(self, message: JobTable.RowActivated) -> None:
        self.messages.append(message)

    def on_job_table_marks_changed(self, message: JobTable.MarksChanged) -> None:
        self.messages.append(message)


@asynccontextmanager
async def running(size: tuple[int, int] = SIZE) -> AsyncIterator[tuple[Host, Pilot, JobTable]]:
    """A host app showing the 10,000 rows, with the table focused."""
    app = Host(ten_thousand())
    async with app.run_test(size=size) as pilot:
        table = app.query_one(JobTable)
        table.focus()
        await pilot.pause()
        yield app, pilot, table


def screen_lines(app: App) -> list[Strip]:
    return app.screen._compositor.render_strips()


def screen_text(app: App) -> list[str]:
    return [strip.text for strip in screen_lines(app)]


def cursor_rows(app: App, table: JobTable) -> list[str]:
    """Screen rows painted with the cursor background."""
    cursor = table.get_component_rich_style("job-table--cursor", partial=True).bgcolor
    return [
        strip.text for strip in screen_lines(app)[1:] if any(seg.style.bgcolor == cursor for seg in strip)
    ]


def last(app: Host, kind: type[Message]) -> Message:
    return [m for m in app.messages if isinstance(m, kind)][-1]


async def test_initial_paint_shows_header_first_rows_and_cursor() -> None:
    async with running() as (app, _pilot, table):
        lines = screen_text(app)
        assert lines[0].split() == ["Name", "State", "Reason", "ID"]
        assert lines[1].split() == ["job-00000", "RUNNING", "0"]
        assert lines[GROUP_INDEX + 1].split() == ["▸", "sweep", "RUNNING", "99999"]
        assert len(lines) == SIZE[1]
        assert table.row_count_visible == SINGLES + 1  # the array is folded
        assert table.virtual_size.height == SINGLES + 2  # rows and the header
        assert table.cursor_key == "job0"
        assert cursor_rows(app, table) == [lines[1]]
        assert last(app, JobTable.CursorMoved).key == "job0"


async def test_keys_move_the_cursor_and_the_view_follows() -> None:
    async with running() as (app, pilot, table):
        await pilot.press("down", "down", "j", "k")
        assert table.cursor_key == "job2"
        await pilot.press("pagedown")
        page = table.scrollable_content_region.height - 1
        assert table.cursor_key == app.rows[2 + page].key
        assert cursor_rows(app, table)[0].split()[0] == app.rows[2 + page].cells[0]
        await pilot.press("G")
        assert table.cursor_key == app.rows[SINGLES].key  # the last top-level row
        assert screen_text(app)[-1].split()[0] == app.rows[SINGLES].cells[0]
        assert screen_text(app)[0].split()[0] == "Name"  # the header does not scroll
        await pilot.press("pageup")
        assert table.cursor_key == app.rows[SINGLES - page].key
        await pilot.press("g")
        assert table.cursor_key == "job0" and table.scroll_offset.y == 0
        await pilot.press("end", "home")
        assert table.cursor_key == "job0"
        moves = [m.key for m in app.messages if isinstance(m, JobTable.CursorMoved)]
        assert moves[:5] == ["job0", "job1", "job2", "job3", "job2"]
        assert moves[-2:] == [app.rows[SINGLES].key, "job0"]


async def test_keymap_remaps_table_bindings() -> None:
    async with running() as (app, pilot, table):
        app.set_keymap({"table.cursor_down": "n"})
        await pilot.press("n", "n", "j")
        assert table.cursor_key == "job2"


async def test_click_selects_a_row() -> None:
    async with running() as (_app, pilot, table):
        await pilot.click(JobTable, offset=(4, 4))
        assert table.cursor_key == "job3"
        await pilot.click(JobTable, offset=(4, 0))  # the header
        assert table.cursor_key == "job3"


async def test_sort_by_method_and_binding_keeps_the_cursor_key() -> None:
    async with running() as (app, pilot, table):
        await pilot.press("down", "down")
        table.sort_by("id", reverse=True)
        await pilot.pause()
        lines = screen_text(app)
        assert lines[0].split()[-2:] == ["ID", "▼"]
        assert [line.split()[0] for line in lines[-2:]] == ["job-00003", "job-00002"]  # scrolled just enough
        assert table.cursor_key == "job2"
        assert cursor_rows(app, table)[0].split()[0] == "job-00002"
        await pilot.press("home")
        lines = screen_text(app)
        assert lines[1].split()[1:3] == ["sweep", "RUNNING"]  # 99999 is the largest id
        assert lines[2].split()[0] == f"job-{SINGLES - 1:05d}"
        await pilot.press("end", "up", "up")
        assert table.cursor_key == "job2"
        await pilot.press("o")  # after the last column descending: the natural order
        assert screen_text(app)[0].split() == ["Name", "State", "Reason", "ID"]
        assert table.cursor_key == "job2"
        await pilot.press("o")
        assert screen_text(app)[0].split()[:2] == ["Name", "▲"]
        names = [line.split()[0] for line in screen_text(app)[1:] if line.strip()]
        assert names == sorted(names)
        assert table.cursor_key == "job2"
        await pilot.press("o")
        assert screen_text(app)[0].split()[:2] == ["Name", "▼"]


async def test_filter_shows_only_matching_rows() -> None:
    async with running() as (app, pilot, table):
        table.set_filter("state:failed reason:time")
        await pilot.pause()
        failed = sum(1 for row in app.rows if row.cells[1] == "FAILED")
        assert table.row_count_visible == failed
        body = [line for line in screen_text(app)[1:] if line.strip()]
        assert body and all("FAILED" in line and "TIMEOUT" in line for line in body)
        assert table.cursor_key == "job2"
        table.set_filter("name:sweep[99")
        await pilot.pause()
        assert table.row_count_visible == 1 + 11  # the group, opened, and sweep[99], sweep[990..999]
        assert screen_text(app)[1].split()[:2] == ["▾", "sweep"]
        table.set_filter("")
        await pilot.pause()
        assert table.row_count_visible == SINGLES + 1


async def test_enter_unfolds_and_folds_a_group_of_a_thousand() -> None:
    async with running() as (app, pilot, table):
        await pilot.press(*["down"] * GROUP_INDEX, "enter")
        assert table.row_count_visible == SINGLES + 1 + CHILDREN
        lines = screen_text(app)
        row = GROUP_INDEX + 1
        assert lines[row].split()[:2] == ["▾", "sweep"]
        assert lines[row + 1].startswith("      sweep[0] ")  # gutter and indent
        assert last(app, JobTable.RowActivated).key == "arr"
        await pilot.press("down", "down", "end")
        assert table.cursor_key == app.rows[SINGLES].key
        await pilot.press("home", *["down"] * GROUP_INDEX, "enter")
        assert table.row_count_visible == SINGLES + 1
        assert screen_text(app)[row].split()[:2] == ["▸", "sweep"]
        assert screen_text(app)[row + 1].split()[0] == f"job-{GROUP_INDEX:05d}"


async def test_enter_on_a_plain_row_posts_row_activated() -> None:
    async with running() as (app, pilot, table):
        await pilot.press("down", "enter")
        assert last(app, JobTable.RowActivated).key == "job1"
        assert table.row_count_visible == SINGLES + 1


async def test_in_place_update_keeps_the_cursor_and_flashes_changed_cells() -> None:
    async with running() as (app, pilot, table):
        await pilot.press("down", "down", "down")
        moves = len([m for m in app.messages if isinstance(m, JobTable.CursorMoved)])
        rows = list(app.rows)
        for i in range(100):  # the first 100 singles all fail, the cursor's row among them
            rows[i if i < GROUP_INDEX else i + 1] = single(i, "FAILED")
        diff = table.update_rows(rows)
        await pilot.pause()
        assert len(diff.changed) == len([i for i in range(100) if STATES[i % 4] != "FAILED"])
        assert table.cursor_key == "job3"
        assert len([m for m in app.messages if isinstance(m, JobTable.CursorMoved)]) == moves
        flash = table.get_component_rich_style("job-table--changed", partial=True).bgcolor
        line = screen_lines(app)[1]
        assert line.text.split()[:3] == ["job-00000", "FAILED", "TIMEOUT"]
        flashed = [seg.text.strip() for seg in line if seg.style.bgcolor == flash and seg.text.strip()]
        assert flashed == ["FAILED", "TIMEOUT"]
        unchanged = screen_lines(app)[3]  # job-00002 was FAILED already
        assert not any(seg.style.bgcolor == flash for seg in unchanged)
        await pilot.pause(FLASH_SECONDS + 0.6)
        assert not any(seg.style.bgcolor == flash for strip in screen_lines(app) for seg in strip)
        assert "FAILED" in screen_text(app)[1]


async def test_update_that_reorders_or_removes_rows_moves_the_cursor_by_key() -> None:
    async with running() as (app, pilot, table):
        table.sort_by("state")
        await pilot.press("home", "down", "down")
        key = table.cursor_key
        assert key == "job10"  # the third FAILED row
        index = next(i for i, row in enumerate(app.rows) if row.key == key)
        rows = list(app.rows)
        rows[index] = TableRow(key, (rows[index].cells[0], "AAA", "", "1"), sort_keys=("", "AAA", "", 1))
        table.update_rows(rows)
        await pilot.pause()
        assert table.cursor_key == key
        assert cursor_rows(app, table)[0].split()[1] == "AAA"
        assert screen_text(app)[1].split()[1] == "AAA"  # it sorted to the top
        del rows[index]
        table.update_rows(rows)
        await pilot.pause()
        assert table.cursor_key not in (None, key)
        assert last(app, JobTable.CursorMoved).key == table.cursor_key


async def test_space_marks_rows_and_marks_follow_their_rows() -> None:
    async with running() as (app, pilot, table):
        await pilot.press("space", "down", "space", "down")
        assert table.marked == {"job0", "job1"}
        assert last(app, JobTable.MarksChanged).keys == {"job0", "job1"}
        lines = screen_text(app)
        assert lines[1].startswith("● job-00000") and lines[2].startswith("● job-00001")
        assert lines[3].startswith("  job-00002")
        await pilot.press("up", "space")
        assert table.marked == {"job0"}
        table.update_rows([row for row in app.rows if row.key != "job0"])
        await pilot.pause()
        assert table.marked == frozenset()
        assert last(app, JobTable.MarksChanged).keys == frozenset()
        assert not any(line.startswith("●") for line in screen_text(app))
        await pilot.press("space", "down", "space")
        assert len(table.marked) == 2
        table.clear_marks()
        await pilot.pause()
        assert table.marked == frozenset() and last(app, JobTable.MarksChanged).keys == frozenset()
        assert not any(line.startswith("●") for line in screen_text(app))


async def test_wide_rows_scroll_horizontally_under_a_fixed_header() -> None:
    async with running((30, 12)) as (app, pilot, table):
        table.scroll_to(x=8, y=3, animate=False)
        await pilot.pause()
        width = table.scrollable_content_region.width
        header = "  " + " ".join(
            (c.label.rjust(c.width) if c.align == "right" else c.label.ljust(c.width)) for c in COLUMNS
        )
        row = "  " + " ".join(
            (text.rjust(c.width) if c.align == "right" else text.ljust(c.width))
            for c, text in zip(COLUMNS, app.rows[3].cells, strict=True)
        )
        lines = screen_text(app)
        assert lines[0][:width] == header[8 : 8 + width]
        assert lines[1][:width] == row[8 : 8 + width]
