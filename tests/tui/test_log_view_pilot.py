"""LogScreen driven by Pilot over real files read by the real local backend (and one over the test sshd)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Input

from backends.local.backend import LocalBackend
from backends.runners.files import RemoteFiles
from backends.runners.ssh import SshRunner
from monitor.errors import StoreError
from monitor.log_tail import ReadBytes
from tui.screens.log_screen import TAIL_GROUP, LogScreen
from tui.screens.log_source import LogAttempt, LogSource
from tui.widgets.log_view import LogLines, LogView

POLL = 0.05


class Host(App[None]):
    def __init__(self, source: LogSource) -> None:
        super().__init__()
        self.source = source

    def on_mount(self) -> None:
        self.push_screen(LogScreen(self.source, poll_interval=POLL))

    @property
    def log_screen(self) -> LogScreen:
        assert isinstance(self.screen, LogScreen)
        return self.screen

    @property
    def view(self) -> LogView:
        return self.log_screen.view

    @property
    def body(self) -> LogLines:
        return self.view.body

    def rows(self) -> list[str]:
        """The text of every visible row of the log, as rendered."""
        return [self.body.render_line(y).text.rstrip() for y in range(self.body.size.height)]

    def badge(self) -> str:
        badge = self.view.query_one("#log-badge")
        return str(badge.content) if badge.has_class("-shown") else ""

    def status(self) -> str:
        return str(self.view.query_one("#log-status").content)


async def until(
    pilot: Pilot[None], condition: Callable[[], object], what: str, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(POLL)


@asynccontextmanager
async def running(source: LogSource, lines: int | None = None) -> AsyncIterator[tuple[Host, Pilot[None]]]:
    """A host app showing `source`, once its first `lines` lines are in."""
    app = Host(source)
    async with app.run_test(size=(100, 30)) as pilot:
        if lines is not None:
            await until(pilot, lambda: len(app.body.lines) == lines, f"the first {lines} lines")
        yield app, pilot


def write_lines(path: Path, lines: list[str], mode: str = "a") -> None:
    with path.open(mode) as handle:
        handle.write("".join(f"{line}\n" for line in lines))


@pytest.fixture
def read(tmp_path: Path) -> ReadBytes:
    return LocalBackend("local", tmp_path / "state").read_bytes


@pytest.fixture
def logs(tmp_path: Path) -> dict[str, Path]:
    """Two attempts: the first wrote to one file, the second has separate stdout and stderr."""
    paths = {name: tmp_path / f"{name}.log" for name in ("old", "out", "err")}
    write_lines(paths["old"], ["attempt one says goodbye"])
    write_lines(paths["out"], [f"out {n}" for n in range(200)])
    write_lines(paths["err"], ["err: warming up", "err: CUDA out of memory"])
    return paths


@pytest.fixture
def source(logs: dict[str, Path], read: ReadBytes) -> LogSource:
    return LogSource(
        "train[3] (sweep)",
        [
            LogAttempt(1, "101", str(logs["old"]), None),
            LogAttempt(2, "102", str(logs["out"]), str(logs["err"])),
        ],
        read,
    )


async def test_opens_at_the_tail_and_follows_appended_lines(source: LogSource, logs: dict[str, Path]) -> None:
    async with running(source, lines=200) as (app, pilot):
        title = str(app.view.query_one("#log-title").content)
        assert title.startswith("train[3] (sweep) · attempt 2 (2 of 2) · job 102 · stdout · ")
        assert title.endswith(str(logs["out"]))
        assert app.rows()[-1] == "out 199"
        assert app.body.following

        write_lines(logs["out"], ["fresh 1", "fresh 2"])
        await until(pilot, lambda: app.rows()[-1] == "fresh 2", "appended lines at the bottom")
        assert app.rows()[-2] == "fresh 1"
        assert app.badge() == ""

        with logs["out"].open("a") as handle:
            handle.write("epoch 1:  50%")  # a progress bar: no newline yet
        await until(pilot, lambda: app.rows()[-1] == "epoch 1:  50%", "the unfinished line")
        with logs["out"].open("a") as handle:
            handle.write("\repoch 1: 100%\n")
        await until(pilot, lambda: app.body.lines[-1].text == "epoch 1: 100%", "the finished line")
        assert app.rows()[-2:] == ["fresh 2", "epoch 1: 100%"] and app.body.pending is None


async def test_scrolled_up_counts_new_lines_and_0_returns_to_the_tail(
    source: LogSource, logs: dict[str, Path]
) -> None:
    async with running(source, lines=200) as (app, pilot):
        await pilot.press("home")
        assert not app.body.following
        top = app.rows()

        write_lines(logs["out"], ["late 1", "late 2", "late 3"])
        await until(pilot, lambda: app.badge(), "the new-lines badge")
        assert app.badge().startswith("+3 new lines")
        assert app.rows() == top[: len(app.rows())]  # the view does not move (the badge takes a row)
        assert "paused" in app.status()

        await pilot.press("0")
        await pilot.pause()
        assert app.badge() == "" and app.body.following
        assert app.rows()[-1] == "late 3"

        await pilot.press("up", "up")
        write_lines(logs["out"], ["later"])
        await until(pilot, lambda: app.badge().startswith("+1 new line "), "the badge again")
        await pilot.press("G")
        await pilot.pause()
        assert app.badge() == "" and app.rows()[-1] == "later"


async def test_o_switches_stream_and_p_shows_the_previous_attempt(
    source: LogSource, logs: dict[str, Path]
) -> None:
    async with running(source, lines=200) as (app, pilot):
        await pilot.press("o")
        await until(pilot, lambda: app.rows()[:2] == ["err: warming up", "err: CUDA out of memory"], "stderr")
        assert " · stderr · " in str(app.view.query_one("#log-title").content)

        await pilot.press("p")
        await until(pilot, lambda: app.rows()[0] == "attempt one says goodbye", "attempt 1")
        assert app.log_screen.stream == "stdout"  # attempt 1 has no separate stderr
        await pilot.press("o")  # refused: stays on stdout
        assert app.log_screen.stream == "stdout"
        await pilot.press("p")  # no older attempt
        assert app.log_screen.attempt.number == 1

        await pilot.press("P")
        await until(pilot, lambda: app.rows()[-1] == "out 199", "back to attempt 2")
        assert app.log_screen.attempt.number == 2
        tails = [w for w in app.workers if w.group == TAIL_GROUP and w.is_running]
        assert len(tails) == 1  # switching cancelled the previous tails


async def test_w_wraps_long_lines(source: LogSource, logs: dict[str, Path]) -> None:
    long = "".join(f"{n % 10}" for n in range(250))
    wide = "語" * 75  # two cells each: a row never splits one
    write_lines(logs["out"], [long, wide, "short"], mode="w")
    async with running(source, lines=3) as (app, pilot):
        assert app.body.virtual_size.height == 3
        assert app.rows()[0] == long[: app.body.size.width]

        await pilot.press("w")
        await pilot.pause()
        width = app.body.scrollable_content_region.width
        pieces = [long[i : i + width] for i in range(0, len(long), width)]
        per_row = width // 2
        wide_pieces = [wide[i : i + per_row] for i in range(0, len(wide), per_row)]
        expected = [*pieces, *wide_pieces, "short"]
        assert app.rows()[: len(expected)] == expected
        assert app.body.virtual_size.height == len(expected)
        assert "wrap on" in app.status()

        await pilot.press("w")
        await pilot.pause()
        assert app.body.virtual_size.height == 3

        app.set_keymap({"log.wrap": "ctrl+w"})
        await pilot.press("w")
        assert not app.body.wrap
        await pilot.press("ctrl+w")
        assert app.body.wrap


async def test_t_shows_when_each_line_was_read(source: LogSource, logs: dict[str, Path]) -> None:
    async with running(source, lines=200) as (app, pilot):
        await pilot.press("t")
        write_lines(logs["out"], ["stamped"])
        await until(pilot, lambda: app.rows()[-1].endswith("stamped"), "the new line")
        rows = app.rows()
        assert re.fullmatch(r"\d\d:\d\d:\d\d stamped", rows[-1])
        assert rows[-2] == " " * 9 + "out 199"  # lines already in the file have no read time

        await pilot.press("t")
        await pilot.pause()
        assert app.rows()[-1] == "stamped"

        title = app.view.query_one("#log-title")
        await pilot.press("f")
        assert not title.display and app.body.size.height == 30  # only the lines
        await pilot.press("f")
        assert title.display


async def test_search_finds_highlights_and_cycles_matches(source: LogSource, logs: dict[str, Path]) -> None:
    async with running(source, lines=200) as (app, pilot):
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"out 1", "5", "enter")  # "n" typed into the box is text, not "next match"
        assert app.body.pattern == "out 15"
        # matching lines: out 15, out 150 ... out 159; while following, the search starts at the bottom
        assert app.body.lines[app.body.current_match].text == "out 159"
        assert "/out 15: 11/11" in app.status()
        assert isinstance(app.focused, LogLines)

        await pilot.press("n")
        assert app.body.lines[app.body.current_match].text == "out 15"  # wraps around
        visible = app.rows()
        assert "out 15" in visible
        await pilot.press("n")
        assert app.body.lines[app.body.current_match].text == "out 150"
        await pilot.press("N", "N")
        assert app.body.lines[app.body.current_match].text == "out 159"
        assert "/out 15: 11/11" in app.status()

        row = app.rows().index("out 159")
        current = app.body.render_line(row)
        plain = app.body.render_line(row + 1)
        assert current.text.rstrip() == "out 159" and plain.text.rstrip() == "out 160"
        assert {s.style.bgcolor for s in current} != {s.style.bgcolor for s in plain}  # highlighted

        await pilot.press("slash", "escape")
        assert not app.view.searching and isinstance(app.screen, LogScreen)


async def test_missing_log_shows_a_message_and_is_picked_up_later(tmp_path: Path, read: ReadBytes) -> None:
    path = tmp_path / "not-yet.out"
    async with running(LogSource("queued job", [LogAttempt(1, "7", str(path), None)], read)) as (app, pilot):
        expected = f"log not found: {path} (the job may not have started yet)"
        await until(pilot, lambda: app.view.message == expected, "the not-found message")
        await pilot.pause(3 * POLL)
        assert app.view.message == expected  # retried quietly

        write_lines(path, ["job started"])
        await until(pilot, lambda: app.rows()[0] == "job started", "the file once created")
        assert app.view.message == ""


async def test_unreadable_log_shows_why(tmp_path: Path, read: ReadBytes) -> None:
    directory = tmp_path / "a-directory.out"
    directory.mkdir()
    async with running(LogSource("odd job", [LogAttempt(1, "8", str(directory), None)], read)) as (
        app,
        pilot,
    ):
        await until(pilot, lambda: app.view.message, "a message")
        assert str(directory) in app.view.message and "directory" in app.view.message.lower()


async def test_unreachable_host_shows_a_message(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    runner = SshRunner("127.0.0.1", port=port, user="root", connect_timeout=2, backoff_base=0.1)
    try:
        source = LogSource(
            "far job", [LogAttempt(1, "9", "/data/far.out", None)], RemoteFiles(runner).read_bytes
        )
        async with running(source) as (app, pilot):
            await until(pilot, lambda: "unreachable" in app.view.message, "the unreachable message")
            assert "127.0.0.1" in app.view.message
            assert app.body.lines == []
    finally:
        await runner.close()


async def test_escape_sequences_never_reach_the_screen(source: LogSource, logs: dict[str, Path]) -> None:
    logs["out"].write_bytes(
        b"\x1b]0;pwned title\x07before\n\x1b[2J\x1b[Hcleared\n\x1b[10;10Hmoved \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\n"
        b"\xc2\x9b2J c1 \x00 nul\n"
    )
    async with running(source, lines=4) as (app, _):
        rows = app.rows()
        assert rows[:4] == ["before", "cleared", "moved link", "\\x9b2J c1 \\x00 nul"]
        rendered = "".join(s.text for y in range(app.body.size.height) for s in app.body.render_line(y))
        assert not re.search(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]", rendered)
        assert "pwned" not in rendered


async def test_offsets_are_saved_and_a_reopened_log_continues_there(
    source: LogSource, logs: dict[str, Path]
) -> None:
    saved: dict[tuple[int, str], int] = {}

    async def save(attempt: int, stream: str, path: str, offset: int) -> None:
        assert path == str(logs["out"] if stream == "stdout" else logs["err"])
        saved[attempt, stream] = offset

    async def load(attempt: int, stream: str) -> int | None:
        return saved.get((attempt, stream))

    persisting = LogSource(source.title, source.attempts, source.read, save, load)
    async with running(persisting) as (app, pilot):
        await until(pilot, lambda: saved.get((2, "stdout")) == logs["out"].stat().st_size, "the saved offset")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LogScreen)

    write_lines(logs["out"], ["while away 1", "while away 2"])
    async with running(persisting, lines=3) as (app, pilot):
        assert [line.text for line in app.body.lines] == [
            f"--- continuing at byte {logs['out'].stat().st_size - 26:,}, where this log was last read ---",
            "while away 1",
            "while away 2",
        ]
        await until(pilot, lambda: saved[2, "stdout"] == logs["out"].stat().st_size, "the new offset")


async def test_a_store_that_cannot_load_the_offset_gets_the_tail(source: LogSource) -> None:
    async def load(attempt: int, stream: str) -> int | None:
        raise StoreError(f"session database locked (attempt {attempt} {stream})")

    async with running(LogSource(source.title, source.attempts, source.read, load_offset=load)) as (
        app,
        pilot,
    ):
        await until(pilot, lambda: len(app.body.lines) == 201, "the notice and the tail")
        first = app.body.lines[0]
        assert first.notice and "session database locked (attempt 2 stdout)" in first.text
        assert app.body.lines[-1].text == "out 199"


async def test_leaving_the_screen_stops_polling(source: LogSource, logs: dict[str, Path]) -> None:
    reads = 0

    async def counting(path: str, offset: int, limit: int) -> tuple[bytes, int]:
        nonlocal reads
        reads += 1
        return await source.read(path, offset, limit)

    async with running(LogSource(source.title, source.attempts, counting)) as (app, pilot):
        await until(pilot, lambda: reads >= 4, "a few polls")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LogScreen)
        after = reads
        await pilot.pause(5 * POLL)
        assert reads == after
        assert not [w for w in app.workers if w.group == TAIL_GROUP and w.is_running]


@pytest.mark.ssh
async def test_follows_a_log_over_ssh(ssh_config: Path, tmp_path: Path) -> None:
    path = tmp_path / "remote.out"  # loopback sshd: the same file system, reached through ssh + dd
    write_lines(path, [f"remote {n}" for n in range(50)])
    runner = SshRunner("jobdeck-test", config_paths=[ssh_config])
    transferred: list[int] = []
    files = RemoteFiles(runner)

    async def read(p: str, offset: int, limit: int) -> tuple[bytes, int]:
        data, size = await files.read_bytes(p, offset, limit)
        transferred.append(len(data))
        return data, size

    try:
        remote = LogSource("remote job", [LogAttempt(1, "9", str(path), None)], read)
        async with running(remote, lines=50) as (app, pilot):
            assert app.rows()[-1] == "remote 49"
            before = sum(transferred)
            write_lines(path, ["over ssh"])
            await until(pilot, lambda: app.rows()[-1] == "over ssh", "the appended remote line")
            assert sum(transferred) - before == len(b"over ssh\n")  # only the new bytes travelled
    finally:
        await runner.close()


class Lines(App[None]):
    def compose(self) -> ComposeResult:
        yield LogLines(max_lines=10)


async def test_old_lines_are_pruned_and_the_view_stays_put() -> None:
    app = Lines()
    async with app.run_test(size=(40, 5)) as pilot:
        body = app.query_one(LogLines)
        body.add([f"{n}" for n in range(10)])
        await pilot.pause()
        assert body.following and body.render_line(4).text.rstrip() == "9"

        body.scroll_to(y=2, animate=False)
        await pilot.pause()
        assert body.render_line(0).text.rstrip() == "2" and not body.following
        body.add(["10", "11"])  # 12 lines: down to 9, the oldest three go
        await pilot.pause()
        assert [line.text for line in body.lines] == [f"{n}" for n in range(3, 12)]
        assert (
            body.render_line(0).text.rstrip() == "3"
        )  # "2" was dropped: the view moved as little as it could
        assert body.unseen == 2
