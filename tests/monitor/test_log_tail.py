"""LogTail against real files read with os.pread, counting the bytes each read transfers."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.log_tail import TRUNCATED_NOTICE, LogTail

UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # controls but tab, DEL, C1
GB = 1024**3
MB = 1024**2


class FileReader:
    """`read_bytes` for local files, as a backend does it: one open, fstat and pread per call."""

    def __init__(self) -> None:
        self.bytes_read = 0
        self.calls = 0

    async def __call__(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            data = os.pread(fd, limit, offset) if limit else b""
        finally:
            os.close(fd)
        self.calls += 1
        self.bytes_read += len(data)
        return data, size


def numbered(first: int, count: int) -> list[str]:
    return [f"line {n:07d} " + "x" * 50 for n in range(first, first + count)]


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


@pytest.fixture
def reader() -> FileReader:
    return FileReader()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "job.out"
    path.write_bytes(b"")
    return path


async def test_open_of_a_1gb_sparse_file_reads_only_its_tail(tmp_path: Path, reader: FileReader) -> None:
    path = tmp_path / "big.out"
    real = numbered(0, 6000)  # ~370 KB of real lines, more than the tail window
    with path.open("wb") as handle:
        handle.truncate(GB)
        handle.seek(GB)
        handle.write("".join(f"{line}\n" for line in real).encode())

    batch = await LogTail(reader, str(path)).open()

    assert reader.bytes_read < MB and reader.calls == 2  # a small first read, then the tail
    assert batch.lines == real[-len(batch.lines) :]  # whole lines only, in order, up to the last
    assert 256 * 1024 // 70 < len(batch.lines) < len(real)
    assert batch.pending is None and batch.behind == 0 and not batch.notices
    assert batch.size == path.stat().st_size


async def test_a_tail_that_starts_on_a_line_boundary_keeps_that_line(log: Path, reader: FileReader) -> None:
    log.write_bytes(b"first\nsecond\nthird\n")
    batch = await LogTail(reader, str(log), tail_bytes=len(b"second\nthird\n")).open()
    assert batch.lines == ["second", "third"]


async def test_follow_returns_appended_lines_reading_only_new_bytes(log: Path, reader: FileReader) -> None:
    append(log, b"one\ntwo\n")
    tail = LogTail(reader, str(log))
    assert (await tail.open()).lines == ["one", "two"]
    assert tail.offset == len(b"one\ntwo\n")
    assert reader.calls == 1  # a small log is opened in one call

    before = reader.bytes_read
    assert (await tail.poll()).lines == []
    assert reader.bytes_read == before

    append(log, b"three\nfour\n")
    batch = await tail.poll()
    assert batch.lines == ["three", "four"]
    assert reader.bytes_read - before == len(b"three\nfour\n")
    assert tail.offset == log.stat().st_size


async def test_partial_line_is_pending_until_its_newline(log: Path, reader: FileReader) -> None:
    tail = LogTail(reader, str(log))
    await tail.open()
    append(log, b"done\nhalf a li")
    batch = await tail.poll()
    assert batch.lines == ["done"]
    assert batch.pending == "half a li"
    assert tail.offset == len(b"done\n")  # a resumed tail re-reads the unfinished line

    append(log, b"ne\n")
    batch = await tail.poll()
    assert batch.lines == ["half a line"]
    assert batch.pending is None
    assert tail.offset == log.stat().st_size


async def test_a_burst_is_read_one_chunk_per_poll(log: Path, reader: FileReader) -> None:
    tail = LogTail(reader, str(log), chunk=4096)
    await tail.open()
    lines = numbered(0, 1000)  # ~61 KB
    append(log, "".join(f"{line}\n" for line in lines).encode())

    seen: list[str] = []
    polls = 0
    while True:
        before = reader.bytes_read
        batch = await tail.poll()
        polls += 1
        assert reader.bytes_read - before <= 4096
        seen += batch.lines
        if not batch.behind:
            break
    assert seen == lines
    assert polls == -(-log.stat().st_size // 4096)


async def test_truncation_restarts_from_the_start_with_a_notice(log: Path, reader: FileReader) -> None:
    append(log, b"old 1\nold 2\nold 3\n")
    tail = LogTail(reader, str(log))
    await tail.open()
    log.write_bytes(b"new 1\n")

    batch = await tail.poll()
    assert batch.truncated
    assert batch.notices == [TRUNCATED_NOTICE]
    assert batch.lines == ["new 1"]
    assert tail.offset == len(b"new 1\n")

    append(log, b"new 2\n")
    batch = await tail.poll()
    assert not batch.truncated and batch.lines == ["new 2"]


async def test_resume_from_a_saved_offset_reads_only_new_bytes(log: Path, reader: FileReader) -> None:
    append(log, "".join(f"{line}\n" for line in numbered(0, 5000)).encode())
    first = LogTail(reader, str(log))
    await first.open()
    saved = first.offset
    assert saved == log.stat().st_size

    new = numbered(5000, 3)
    append(log, "".join(f"{line}\n" for line in new).encode())
    second = FileReader()
    batch = await LogTail(second, str(log), start_offset=saved).open()

    assert batch.lines == new and not batch.notices
    assert second.calls == 1
    assert second.bytes_read == log.stat().st_size - saved + 1  # one byte to check the boundary


async def test_resume_far_behind_jumps_to_the_tail(log: Path, reader: FileReader) -> None:
    lines = numbered(0, 100_000)  # ~6.1 MB
    log.write_bytes("".join(f"{line}\n" for line in lines).encode())

    batch = await LogTail(reader, str(log), start_offset=100).open()

    size = log.stat().st_size
    assert batch.skipped_bytes == size - 256 * 1024 - 100
    assert batch.notices == [f"--- skipped {batch.skipped_bytes:,} bytes; showing the tail ---"]
    assert batch.lines == lines[-len(batch.lines) :]
    assert reader.bytes_read < MB


async def test_saved_offset_beyond_the_end_reads_the_new_file(log: Path, reader: FileReader) -> None:
    log.write_bytes(b"requeued\n")
    batch = await LogTail(reader, str(log), start_offset=5000).open()
    assert batch.truncated and batch.lines == ["requeued"]


async def test_missing_file_raises_and_is_picked_up_once_created(tmp_path: Path, reader: FileReader) -> None:
    path = tmp_path / "later.out"
    tail = LogTail(reader, str(path))
    with pytest.raises(FileNotFoundError, match=r"later\.out"):
        await tail.open()
    assert not tail.is_open
    with pytest.raises(RuntimeError):
        await tail.poll()

    path.write_bytes(b"started\n")
    assert (await tail.open()).lines == ["started"]


async def test_a_deleted_file_raises_on_poll_and_resumes_when_back(log: Path, reader: FileReader) -> None:
    append(log, b"a\nb\n")
    tail = LogTail(reader, str(log))
    await tail.open()
    log.unlink()
    with pytest.raises(FileNotFoundError):
        await tail.poll()
    log.write_bytes(b"c\n")
    batch = await tail.poll()
    assert batch.truncated and batch.lines == ["c"]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"ok \xff\xfe end", "ok \\xff\\xfe end"),
        (b"caf\xc3\xa9 \xe2\x82", "café \\xe2\\x82"),
        (b"a\x00b\x07c\td\x7f", "a\\x00b\\x07c\td\\x7f"),
        (b"crlf line\r", "crlf line"),
        (b"  0%\r 50%\r100%", "100%"),
        (b"  0%\r 50%\r100%\r\r", "100%"),
        (b"\x1b[2J\x1b[Hcleared", "cleared"),
        (b"\x1b[31mred\x1b[0m plain", "red plain"),
        (b"\x1b]0;pwned\x07title", "title"),
        (b"\x1b]2;pwned\x1b\\title", "title"),
        (b"\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"),
        (b"\x1bPq#0;2;0;0;0\x1b\\sixel", "sixel"),
        (b"\x1b7save\x1b8\x1bcreset", "savereset"),
        (b"\xc2\x9b2Jc1 csi", "\\x9b2Jc1 csi"),
        (b"\x1b]0;unterminated title", ""),
        (b"lone \x1b", "lone \\x1b"),
    ],
)
async def test_lines_are_safe_for_a_terminal(log: Path, reader: FileReader, raw: bytes, shown: str) -> None:
    log.write_bytes(raw + b"\n")
    assert (await LogTail(reader, str(log)).open()).lines == [shown]


async def test_progress_bar_split_across_reads_shows_its_last_state(log: Path, reader: FileReader) -> None:
    tail = LogTail(reader, str(log), chunk=len(b"\r 10%|#         |"))  # one bar state per read
    await tail.open()
    append(log, b"\r 10%|#         |\r 50%|#####     |\r100%|##########|\r\n")
    lines: list[str] = []
    pending: list[str | None] = []
    while True:
        batch = await tail.poll()
        lines += batch.lines
        pending.append(batch.pending)
        if not batch.behind:
            break
    assert lines == ["100%|##########|"]
    assert pending[:3] == [" 10%|#         |", " 50%|#####     |", "100%|##########|"]


async def test_a_10mb_line_is_capped_and_memory_stays_bounded(log: Path, reader: FileReader) -> None:
    tail = LogTail(reader, str(log), max_behind=64 * MB)
    await tail.open()
    append(log, b"y" * (10 * MB) + b"\nafter\n")

    tracemalloc.start()
    lines: list[str] = []
    polls = 0
    while True:
        batch = await tail.poll()
        polls += 1
        lines += batch.lines
        if not batch.behind:
            break
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert polls == 11
    assert lines == ["y" * 65536 + f" … ({10 * MB - 65536:,} more bytes)", "after"]
    assert peak < 4 * MB  # one chunk and its slices, not the whole line


async def test_a_burst_far_beyond_max_behind_jumps_to_the_tail(log: Path, reader: FileReader) -> None:
    tail = LogTail(reader, str(log), max_behind=MB)
    await tail.open()
    lines = numbered(0, 40_000)  # ~2.4 MB
    append(log, "".join(f"{line}\n" for line in lines).encode())

    batch = await tail.poll()
    assert batch.skipped_bytes > MB
    assert batch.lines == lines[-len(batch.lines) :]
    assert batch.behind == 0


def lines_read(data: bytes, chunk: int, cap: int) -> tuple[list[str], str | None]:
    """Everything a tail returns for `data` written in one go, read `chunk` bytes per poll."""

    async def run(path: str) -> tuple[list[str], str | None]:
        tail = LogTail(FileReader(), path, start_offset=0, chunk=chunk, max_line_bytes=cap)
        batch = await tail.open()
        lines = batch.lines
        while batch.behind:
            batch = await tail.poll()
            lines += batch.lines
        return lines, batch.pending

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "random.out"
        path.write_bytes(data)
        return asyncio.run(run(str(path)))


CONTROL_BYTES = st.sampled_from(
    [b"\n", b"\r", b"\r\n", b"\x1b", b"\x1b[", b"\x1b]", b"\x07", b"\x00", b"\xff"]
)


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(st.one_of(st.binary(max_size=12), CONTROL_BYTES), max_size=30),
    chunk=st.integers(min_value=1, max_value=9),
    cap=st.integers(min_value=1, max_value=20),
)
def test_random_bytes_never_raise_and_do_not_depend_on_chunking(
    parts: list[bytes], chunk: int, cap: int
) -> None:
    data = b"".join(parts)
    lines, pending = lines_read(data, chunk, cap)

    assert (lines, pending) == lines_read(data, 1 << 20, cap)
    assert len(lines) == data.count(b"\n")
    assert (pending is None) == (not data or data.endswith(b"\n"))
    for text in [*lines, pending or ""]:
        assert not UNSAFE.search(text), text
