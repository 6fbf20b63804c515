"""RemoteFiles.read_many: many byte ranges in one command, framed so that any name and any data
survive, through the local runner and through the loopback sshd; and the frame parser on its own."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.runners.base import CommandResult, Runner
from backends.runners.files import RemoteFiles
from backends.runners.frames import parse_frames
from monitor.errors import BackendUnavailable
from monitor.model import ReadChunk


class Counting:
    """The real runner, counting the commands it runs."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.description = runner.description
        self.commands: list[tuple[str, ...]] = []

    async def run(self, argv: Sequence[str], **options: Any) -> CommandResult:
        self.commands.append(tuple(argv))
        return await self.runner.run(argv, **options)

    async def read_frames(self, requests: bytes, timeout: float) -> CommandResult | None:
        answer = await self.runner.read_frames(requests, timeout)
        if answer is not None:
            self.commands.append(answer.argv)
        return answer

    async def close(self) -> None:
        await self.runner.close()


def identity(path: Path) -> str:
    info = os.stat(path)
    return f"{info.st_dev}:{info.st_ino}"


def tricky(folder: Path, canary: str) -> dict[str, bytes]:
    """Names a shell would mangle, with data that looks like the framing itself."""
    names = [
        "plain.log",
        "with space.log",
        "new\nline.log",
        "ends with newline\n",
        "F 3 4 5 6:7\n",
        'it\'s "quoted"',
        "-dash-first",
        "héllo ✓ 日本.log",
        f"$(touch {canary})",
        f"`touch {canary}`",
        "a" * 200,
    ]
    datas = [
        b"",
        b"one line\n",
        b"\0\0binary\0\n\xff\xfe",
        b"M 3\nabc",
        b"F 1 1 1 1:1\nxy" * 50,
        b"no newline at the end",
    ]
    return {str(folder / name): datas[k % len(datas)] * (k + 1) for k, name in enumerate(names)}


async def test_tricky_names_and_data_arrive_whole_in_one_command(runner: Runner, tmp_path: Path) -> None:
    canary = f"CANARY-{uuid.uuid4().hex[:8]}"
    files = tricky(tmp_path, canary)
    for path, data in files.items():
        Path(path).write_bytes(data)
    counting = Counting(runner)
    missing = str(tmp_path / "missing\nfile")

    found = await RemoteFiles(counting).read_many([*((p, 0, 1 << 20) for p in files), (missing, 0, 10)])

    assert len(counting.commands) == 1
    assert found == {
        **{path: ReadChunk(data, len(data), identity(Path(path))) for path, data in files.items()},
        missing: None,
    }
    assert not [place for place in (tmp_path, Path.cwd(), Path.home()) if (place / canary).exists()]


async def test_offsets_and_limits_select_the_range_and_the_size_is_the_whole_file(
    runner: Runner, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 1000
    paths = [tmp_path / f"f{k}" for k in range(4)]
    for path in paths:
        path.write_bytes(data)
    asked = [
        (str(paths[0]), 0, 10),
        (str(paths[1]), 200_000, 100_000),
        (str(paths[2]), 300_000, 5),
        (str(paths[3]), 7, 0),
    ]

    found = await RemoteFiles(runner).read_many(asked)

    assert [found[p] for p, _, _ in asked] == [
        ReadChunk(data[0:10], len(data), identity(paths[0])),
        ReadChunk(data[200_000:300_000], len(data), identity(paths[1])),
        ReadChunk(b"", len(data), identity(paths[2])),
        ReadChunk(b"", len(data), identity(paths[3])),
    ]


async def test_a_negative_offset_reads_the_last_bytes_up_to_the_size(runner: Runner, tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    big, small = tmp_path / "big", tmp_path / "small"
    big.write_bytes(data)
    small.write_bytes(b"short\n")

    found = await RemoteFiles(runner).read_many([(str(big), -1000, 1000), (str(small), -1000, 1000)])

    assert found[str(big)] == ReadChunk(data[-1000:], len(data), identity(big))
    assert found[str(small)] == ReadChunk(b"short\n", 6, identity(small))


async def test_a_replaced_file_has_another_identity(runner: Runner, tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    path.write_bytes(b"old\n")
    files = RemoteFiles(runner)
    before = (await files.read_many([(str(path), 0, 100)]))[str(path)]
    path.rename(tmp_path / "job.log.1")
    path.write_bytes(b"new and longer\n")

    after = (await files.read_many([(str(path), 0, 100)]))[str(path)]

    assert before is not None and after is not None
    assert (before.data, after.data) == (b"old\n", b"new and longer\n")
    assert before.identity != after.identity == identity(path)


async def test_a_file_that_cannot_be_read_is_an_error_for_that_file_only(
    runner: Runner, tmp_path: Path
) -> None:
    folder = tmp_path / "a directory"
    folder.mkdir()
    good = tmp_path / "good.log"
    good.write_bytes(b"fine\n")

    found = await RemoteFiles(runner).read_many([(str(folder), 0, 10), (str(good), 0, 10)])

    problem = found[str(folder)]
    assert problem is not None and problem.data == b"" and "Is a directory" in (problem.error or "")
    assert found[str(good)] == ReadChunk(b"fine\n", 5, identity(good))


async def test_many_files_need_one_command(runner: Runner, tmp_path: Path) -> None:
    paths = [tmp_path / f"log {k}" for k in range(120)]  # several shells on the far side (16 per shell)
    for k, path in enumerate(paths):
        path.write_bytes(f"{k}\n".encode())
    counting = Counting(runner)

    found = await RemoteFiles(counting).read_many([(str(p), 0, 100) for p in paths])

    assert len(counting.commands) == 1
    assert [found[str(p)].data for p in paths] == [f"{k}\n".encode() for k in range(len(paths))]  # type: ignore[union-attr]


async def test_a_path_asked_twice_is_refused(runner: Runner, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="twice"):
        await RemoteFiles(runner).read_many([(str(tmp_path / "a"), 0, 1), (str(tmp_path / "a"), 5, 1)])


names = st.binary(min_size=1, max_size=60).filter(
    lambda n: b"\0" not in n and b"/" not in n and n not in (b".", b"..")
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    files=st.lists(
        st.tuples(names, st.binary(max_size=3000), st.integers(0, 3500), st.integers(0, 3500), st.booleans()),
        min_size=1,
        max_size=6,
        unique_by=lambda f: f[0],
    )
)
async def test_any_names_and_data_survive_the_round_trip(
    runner: Runner, tmp_path: Path, files: list[tuple[bytes, bytes, int, int, bool]]
) -> None:
    folder = os.fsencode(tempfile.mkdtemp(dir=tmp_path))
    expected: dict[str, ReadChunk | None] = {}
    asked = []
    for name, data, offset, limit, exists in files:
        path = folder + b"/" + name
        if exists:
            with open(path, "wb") as handle:
                handle.write(data)
        text = os.fsdecode(path)
        asked.append((text, offset, limit))
        expected[text] = (
            ReadChunk(data[offset : offset + limit], len(data), identity(Path(text))) if exists else None
        )

    assert await RemoteFiles(runner).read_many(asked) == expected


# -- the parser alone ---------------------------------------------------------------------------------


def test_frames_parse_in_order() -> None:
    out = b"F 3 2 10 1:2\n/a\nxyM 2\n/bE 2 17\n/cPermission denied"
    assert parse_frames(out, ["/a\n", "/b", "/c"]) == {
        "/a\n": ReadChunk(b"xy", 10, "1:2"),
        "/b": None,
        "/c": ReadChunk(b"", 0, None, "Permission denied"),
    }


def test_a_file_that_vanished_before_it_was_opened_is_missing() -> None:
    assert parse_frames(b"E 2 35\n/ash: 1: cannot open /a: No such file", ["/a"]) == {"/a": None}


@pytest.mark.parametrize(
    ("out", "problem"),
    [
        (b"", "no answer"),
        (b"F 2 5 10 1:2\n/axy", "cut short"),
        (b"F 2 2 10\n/axy", "bad header"),
        (b"X 2\n/a", "bad header"),
        (b"M -2\n/a", "not a byte count"),
        (b"M 2\n/b", "where '/a' was expected"),
        (b"M 2\n/aM 2\n/a", "bytes after the last answer"),
    ],
)
def test_anything_off_the_framing_is_refused(out: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_frames(out, ["/a"])


async def test_an_unexpected_answer_is_backend_unavailable(tmp_path: Path) -> None:
    class Garbage:
        description = "garbage"

        async def run(self, argv: Sequence[str], **_: object) -> CommandResult:
            return CommandResult(tuple(argv), 0, b"hello\n", b"", 0.0)

        async def read_frames(self, requests: bytes, timeout: float) -> CommandResult:
            return CommandResult(("read-frames",), 0, b"hello\n", b"", 0.0)

        async def close(self) -> None: ...

    with pytest.raises(BackendUnavailable, match="garbage: unexpected answer"):
        await RemoteFiles(Garbage()).read_many([(str(tmp_path / "a"), 0, 1)])
