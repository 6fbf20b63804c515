"""The real `jobdeck` console script run as a monitor process by the scenario tests (re-attach,
chains): bounded waits, manifests written as TOML, and a monitor whose output goes to files."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

T = TypeVar("T")


class NotInTime(AssertionError):
    """A bounded wait ran out."""


def wait_for(check: Callable[[], T], limit: float, what: str, every: float = 0.5) -> T:
    """Call `check` until it returns something truthy; fail naming `what` and its last answer."""
    deadline = time.monotonic() + limit
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise NotInTime(f"{what}: not within {limit:g} s (last: {value!r})")
        time.sleep(every)


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return f"{result.args!r} exited {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"


def alive(pid: int) -> bool:
    """Running, and not a zombie nobody reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int, command: str) -> list[int]:
    """Processes named `command` whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and name == command:
            found.append(int(entry.name))
    return found


def jobdeck_command() -> str:
    """The console script of this virtualenv: the real entry point."""
    beside = Path(sys.executable).parent / "jobdeck"
    found = str(beside) if beside.exists() else shutil.which("jobdeck")
    assert found, f"no `jobdeck` console script next to {sys.executable}: pip install -e ."
    return found


def toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


@dataclass
class DeckFolder:
    """A test's jobdeck folder: the database at <folder>/state/jobdeck.db, the test job scripts
    (JOBS) copied into <folder>/work beside the manifests."""

    JOBS: ClassVar[Path]  # the folder of test job scripts

    folder: Path

    def __post_init__(self) -> None:
        shutil.copytree(self.JOBS, self.workdir)

    @property
    def workdir(self) -> Path:
        return self.folder / "work"

    @property
    def db(self) -> Path:
        return self.folder / "state" / "jobdeck.db"


@dataclass
class Monitor:
    """A jobdeck process of its own process group, its output going to files."""

    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def lines(self) -> list[dict[str, Any]]:
        """The complete lines printed so far: `attach --json` prints events and notices as JSON
        objects; any other line is kept as {"kind": "text", "message": line}."""
        found = []
        for line in self.text().splitlines(keepends=True):
            if line.endswith("\n"):
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    found.append({"kind": "text", "message": line.rstrip("\n")})
        return found

    def wait_line(self, match: Callable[[dict[str, Any]], bool], limit: float, what: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            if self.process.poll() is not None:
                raise AssertionError(f"{what}: the monitor exited {self.process.returncode}\n{self.output()}")
            return next((line for line in self.lines() if match(line)), None)

        try:
            return wait_for(found, limit, what, every=0.2)
        except NotInTime as exc:
            raise AssertionError(f"{exc}\n{self.output()}") from None

    def kill(self) -> None:
        """SIGKILL: no lease released, nothing flushed, as when a login node drops the session."""
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def finish(self, limit: float) -> int:
        try:
            return self.process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the monitor did not exit within {limit:g} s\n{self.output()}") from None

    def children(self, command: str) -> list[int]:
        """Its child processes named `command` (the sbatch it waits for, say)."""
        return children(self.pid, command)

    @staticmethod
    def running(pid: int) -> bool:
        return alive(pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def output(self) -> str:
        return f"stdout:\n{self.text()}\nstderr:\n{self.err.read_text(errors='replace')}"
