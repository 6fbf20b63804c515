"""LogTail with a reader that reports the file's identity (the real LocalBackend.read_many through
chunk_reader): a file replaced by another is noticed even when the new one is bigger."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.local.backend import LocalBackend
from monitor.log_tail import ROTATED_NOTICE, TRUNCATED_NOTICE, LogTail, ReadChunkOf, chunk_reader
from monitor.model import ReadChunk


@pytest.fixture
def read_chunk(tmp_path: Path) -> ReadChunkOf:
    return chunk_reader(LocalBackend("here", tmp_path / "state").read_many)


async def unused(path: str, offset: int, limit: int) -> tuple[bytes, int]:
    raise AssertionError("read_chunk is given: read must not be called")


def lines(first: int, count: int, prefix: str = "line") -> bytes:
    return b"".join(f"{prefix} {n}\n".encode() for n in range(first, first + count))


async def test_a_bigger_replacement_file_is_read_from_its_start(
    tmp_path: Path, read_chunk: ReadChunkOf
) -> None:
    log = tmp_path / "job.out"
    log.write_bytes(lines(0, 3))
    tail = LogTail(unused, str(log), read_chunk=read_chunk)
    assert (await tail.open()).lines == ["line 0", "line 1", "line 2"]
    log.rename(tmp_path / "job.out.1")
    log.write_bytes(lines(0, 5, "new"))  # bigger: by size alone it would look like growth

    batch = await tail.poll()

    assert batch.rotated and batch.notices == [ROTATED_NOTICE]
    assert batch.lines == [f"new {n}" for n in range(5)]
    assert tail.offset == log.stat().st_size
    assert not (await tail.poll()).rotated


async def test_growth_of_the_same_file_is_not_a_rotation(tmp_path: Path, read_chunk: ReadChunkOf) -> None:
    log = tmp_path / "job.out"
    log.write_bytes(lines(0, 2))
    tail = LogTail(unused, str(log), read_chunk=read_chunk)
    await tail.open()
    with log.open("ab") as handle:
        handle.write(lines(2, 2))

    batch = await tail.poll()

    assert not batch.rotated and not batch.notices and batch.lines == ["line 2", "line 3"]


async def test_a_truncated_file_is_still_a_truncation(tmp_path: Path, read_chunk: ReadChunkOf) -> None:
    log = tmp_path / "job.out"
    log.write_bytes(lines(0, 10))
    tail = LogTail(unused, str(log), read_chunk=read_chunk)
    await tail.open()
    log.write_bytes(lines(0, 1, "again"))  # same inode, smaller

    batch = await tail.poll()

    assert batch.notices == [TRUNCATED_NOTICE] and batch.lines == ["again 0"]


async def test_a_huge_replacement_shows_its_tail(tmp_path: Path, read_chunk: ReadChunkOf) -> None:
    log = tmp_path / "job.out"
    log.write_bytes(lines(0, 1))
    tail = LogTail(unused, str(log), read_chunk=read_chunk, max_behind=1000, tail_bytes=100)
    await tail.open()
    log.rename(tmp_path / "job.out.1")  # kept, so the new file cannot reuse its inode
    log.write_bytes(lines(0, 500, "big"))

    batch = await tail.poll()

    assert batch.rotated and batch.skipped_bytes > 0
    assert batch.notices[0] == ROTATED_NOTICE and batch.lines[-1] == "big 499"


async def test_chunk_reader_fails_like_read_bytes(tmp_path: Path, read_chunk: ReadChunkOf) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.out: no such file"):
        await read_chunk(str(tmp_path / "missing.out"), 0, 10)
    with pytest.raises(OSError, match="Is a directory"):
        await read_chunk(str(tmp_path), 0, 10)


async def test_opening_the_tail_of_a_big_log_is_one_read(tmp_path: Path) -> None:
    log = tmp_path / "big.out"
    log.write_bytes(lines(0, 100_000))
    reads: list[tuple[int, int]] = []
    local = chunk_reader(LocalBackend("here", tmp_path / "state").read_many)

    async def counted(path: str, offset: int, limit: int) -> ReadChunk:
        reads.append((offset, limit))
        return await local(path, offset, limit)

    batch = await LogTail(unused, str(log), read_chunk=counted, tail_bytes=1000).open()

    assert len(reads) == 1
    assert (
        batch.lines[-1] == "line 99999"
        and len(batch.lines) == len(lines(0, 100_000)[-1000:].splitlines()) - 1
    )
    assert not batch.pending and batch.behind == 0
