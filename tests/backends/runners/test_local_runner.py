"""What only the local runner does: its environment merge and killing the whole process group."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from backends.runners.local import LocalRunner
from monitor.errors import BackendUnavailable


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_env_adds_to_the_inherited_environment() -> None:
    result = await LocalRunner().run(
        ["sh", "-c", 'printf "%s|%s" "$PATH" "$HOME"'], env={"HOME": "/nowhere"}, timeout=10
    )
    assert result.stdout == f"{os.environ['PATH']}|/nowhere".encode()


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = f"sleep 30 & echo $! > {pid_file}"  # the child outlives sh and keeps its stdout open
    with pytest.raises(BackendUnavailable, match=r"did not finish within 0\.5 s"):
        await LocalRunner().run(["sh", "-c", script], timeout=0.5)
    child = int(pid_file.read_text())
    for _ in range(50):  # SIGKILL is delivered asynchronously; allow it a moment
        if not alive(child):
            break
        await asyncio.sleep(0.02)
    assert not alive(child)
