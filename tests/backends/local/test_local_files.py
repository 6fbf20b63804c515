"""Output checks and log reads through the local backend."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from monitor.errors import BackendUnavailable


async def test_stat_paths_reports_existing_files_and_none_for_missing(backend, tmp_path: Path) -> None:
    full = tmp_path / "full.txt"
    full.write_bytes(b"result\n" * 100)
    empty = tmp_path / "empty.txt"
    empty.touch()
    missing = tmp_path / "missing.txt"
    under_a_file = full / "child"
    paths = [str(full), str(empty), str(missing), str(under_a_file), str(tmp_path)]

    plain = await backend.stat_paths(paths)
    summed = await backend.stat_paths(paths, checksum=True)

    assert plain[str(missing)] is None and plain[str(under_a_file)] is None
    assert summed[str(missing)] is None and summed[str(under_a_file)] is None
    for path in (full, empty):
        info = os.stat(path)
        assert (plain[str(path)].size, plain[str(path)].mtime, plain[str(path)].sha256) == (
            info.st_size,
            info.st_mtime,
            None,
        )
        assert summed[str(path)].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert summed[str(tmp_path)] is not None and summed[str(tmp_path)].sha256 is None  # a directory


async def test_stat_paths_that_cannot_be_checked_are_backend_unavailable(backend, tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)

    with pytest.raises(BackendUnavailable, match=re.escape(str(loop))):
        await backend.stat_paths([str(tmp_path), str(loop)])


async def test_read_bytes_reads_from_offsets_and_reports_the_size(backend, tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_bytes(b"0123456789")

    assert await backend.read_bytes(str(log), 0, 4) == (b"0123", 10)
    assert await backend.read_bytes(str(log), 8, 100) == (b"89", 10)
    assert await backend.read_bytes(str(log), 10, 100) == (b"", 10)
    with log.open("ab") as out:
        out.write(b"abc")
    assert await backend.read_bytes(str(log), 10, 100) == (b"abc", 13)
    with pytest.raises(FileNotFoundError):
        await backend.read_bytes(str(tmp_path / "none.log"), 0, 10)
