"""A real terminal for the smoke tests: one tmux session on a private server running the installed
`jobdeck` console script, keys typed with send-keys, the screen read with capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

WIDTH, HEIGHT = 150, 40


def jobdeck_script() -> str:
    beside = Path(sys.executable).parent / "jobdeck"
    found = str(beside) if beside.exists() else shutil.which("jobdeck")
    assert found, f"no `jobdeck` console script next to {sys.executable} or on PATH: pip install -e ."
    return found


class Terminal:
    """One tmux session on a private server, running one command."""

    def __init__(self, socket: str, name: str) -> None:
        self.socket = socket
        self.name = name

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10, check=True
        )
        return result.stdout

    def start(self, command: str) -> None:
        """Run `command` in a new window that stays readable after the command ends."""
        size = ("-x", str(WIDTH), "-y", str(HEIGHT))
        self.tmux("new-session", "-d", "-s", self.name, *size, command, ";", "set", "remain-on-exit", "on")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait(self, condition: Callable[[str], object], what: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if condition(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; screen:\n{screen}")
            time.sleep(0.2)


@contextmanager
def tmux_terminal(name: str) -> Iterator[Terminal]:
    """A Terminal on a private tmux server, killed at the end; tmux missing fails in CI, else skips."""
    if shutil.which("tmux") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("tmux is missing (CI=true: tests/infra/cluster.sh installs it)")
        pytest.skip("tmux is missing")
    socket = f"jobdeck-{name}-{os.getpid()}"
    try:
        yield Terminal(socket, name)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, timeout=10)
