"""An output that does not exist is "missing" however the filesystem or the language says so; only a
path that truly cannot be looked at makes the check fail (and then no job changes state)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import BackendUnavailable


async def test_an_output_under_a_regular_file_is_missing(checker: Any, tmp_path: Path) -> None:
    plain = tmp_path / "out"
    plain.write_text("a file where a folder was expected\n")
    below = plain / "result.txt"

    found = await checker.stat_paths([str(below), str(plain)])

    assert found[str(below)] is None
    assert found[str(plain)] is not None and found[str(plain)].size == plain.stat().st_size


async def test_missing_outputs_are_recognised_in_any_language(
    checker: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    translated = {**os.environ, "LANGUAGE": "de", "LANG": "C.UTF-8", "LC_ALL": ""}
    probe = subprocess.run(
        ["stat", str(tmp_path / "nowhere")], env=translated, capture_output=True, text=True
    )
    if "No such file or directory" in probe.stderr:
        pytest.skip("coreutils has no German messages on this machine")
    for name, value in translated.items():
        monkeypatch.setenv(name, value)
    present = tmp_path / "here.txt"
    present.write_text("x")

    found = await checker.stat_paths([str(present), str(tmp_path / "nowhere")], checksum=True)

    assert found[str(tmp_path / "nowhere")] is None
    assert found[str(present)] is not None


@pytest.mark.parametrize("name", ["loop", "loop: No such file or directory", "loop: Not a directory"])
async def test_a_path_that_cannot_be_looked_at_is_not_missing(
    checker: Any, tmp_path: Path, name: str
) -> None:
    loop = tmp_path / name
    loop.symlink_to(loop)

    with pytest.raises(BackendUnavailable, match="Too many levels of symbolic links"):
        await checker.stat_paths([str(tmp_path / "nowhere"), str(loop)])
