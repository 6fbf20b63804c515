"""Runs commands as local subprocesses, without a shell."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress

from backends.runners.base import CommandResult
from monitor.errors import BackendUnavailable

# What a POSIX shell answers when it cannot start a command, so callers treat both runners alike.
_START_FAILURES: dict[type[OSError], tuple[int, str]] = {
    FileNotFoundError: (127, "command not found"),
    PermissionError: (126, "Permission denied"),
}


class LocalRunner:
    """A `Runner` for commands on this machine (the local backend, or a login node we run on)."""

    description = "local"

    async def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run argv; on timeout kill its whole process group so no child outlives the call."""
        argv = tuple(argv)
        started = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL if input is None else asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, **env} if env else None,
                start_new_session=True,
            )
        except (FileNotFoundError, PermissionError) as exc:
            code, text = _START_FAILURES[type(exc)]
            return CommandResult(argv, code, b"", f"{argv[0]}: {text}\n".encode(), time.monotonic() - started)
        try:
            async with asyncio.timeout(timeout):
                stdout, stderr = await process.communicate(input)
        except TimeoutError:
            await _kill_group(process)
            raise BackendUnavailable(
                f"local: {command_line(argv)} did not finish within {timeout:g} s and was killed"
            ) from None
        except asyncio.CancelledError:
            await _kill_group(process)
            raise
        returncode = await process.wait()
        return CommandResult(argv, returncode, stdout, stderr, time.monotonic() - started)

    async def close(self) -> None:
        """Nothing to release: every call owns its process."""


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """Kill the session the command started in (it leads it, so its pid is the group id)."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


def command_line(argv: Sequence[str]) -> str:
    """The command as one short shell-quoted line, for error messages of both runners."""
    text = shlex.join(argv)
    return text if len(text) <= 120 else text[:117] + "..."
