"""LocalBackend.read_many answers exactly as RemoteFiles does through a runner on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.local.backend import LocalBackend
from backends.runners.files import RemoteFiles
from backends.runners.local import LocalRunner


async def test_the_same_answer_as_the_remote_reader(backend: LocalBackend, tmp_path: Path) -> None:
    log = tmp_path / "job\nlog"
    log.write_bytes(b"0123456789\0\xff\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    asked = [(str(log), 3, 4), (str(tmp_path / "missing"), 0, 4), (str(tmp_path / "empty"), 0, 9)]
    (tmp_path / "empty").write_bytes(b"")

    local = await backend.read_many(asked)
    remote = await RemoteFiles(LocalRunner()).read_many(asked)

    assert local == remote
    assert local[str(log)] is not None and local[str(log)].data == b"3456"  # type: ignore[union-attr]
    (problem,) = (await backend.read_many([(str(folder), 0, 1)])).values()
    assert problem is not None and problem.error == "Is a directory"


async def test_a_path_asked_twice_is_refused(backend: LocalBackend, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="twice"):
        await backend.read_many([(str(tmp_path / "a"), 0, 1), (str(tmp_path / "a"), 0, 1)])
