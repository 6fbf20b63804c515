"""The runner protocol and its result type."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error_text(self) -> str:
        """The first line of stderr (or stdout), for one-line error messages."""
        for stream in (self.stderr, self.stdout):
            text = stream.decode("utf-8", "replace").strip()
            if text:
                return text.splitlines()[0][:300]
        return f"exit status {self.returncode}"


READ_FRAMES = ("read-frames",)  # the argv of a read_frames answer, for messages


class Runner(Protocol):
    """Runs one command without a shell on the caller's side; arguments are passed literally."""

    description: str  # "local" or "ssh root@host:port", for messages

    async def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run argv and wait for it. A non-zero exit is a CommandResult, not an exception; a
        connection failure or timeout raises monitor.errors.BackendUnavailable naming the host and
        the command."""
        ...

    async def read_frames(self, requests: bytes, timeout: float) -> CommandResult | None:
        """The answer of backends.runners.frames' command to NUL-separated (path, offset, limit)
        triples, read without starting a command (a log's tail then costs one round trip and no
        process); None where this runner cannot, and the command is run instead."""
        ...

    def take_notices(self) -> list[str]:
        """What the user should be told once about how commands run here, since the last call."""
        ...

    async def close(self) -> None: ...
