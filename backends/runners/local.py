"""Runs commands as local subprocesses, without a shell.

A command's output goes to an in-memory file (Linux's memfd) read once when it ends, rather than
through a pipe: squeue writes its 800 KB for 10,000 jobs 4 KiB at a time, and the event loop would
wake for each write, taking the CPU from squeue and slurmctld while they work. Where there is no
memfd, a pipe."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress

from backends.runners.base import READ_FRAMES, CommandResult
from backends.runners.remote_agent import read_frames
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
        with _output_file() as out:
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL if input is None else asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE if out is None else out,
                    stderr=asyncio.subprocess.PIPE,
                    env={**os.environ, **env} if env else None,
                    start_new_session=True,
                )
            except (FileNotFoundError, PermissionError) as exc:
                code, text = _START_FAILURES[type(exc)]
                return CommandResult(
                    argv, code, b"", f"{argv[0]}: {text}\n".encode(), time.monotonic() - started
                )
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
            if out is not None:
                stdout = _read_from_start(out)
        return CommandResult(argv, returncode, stdout, stderr, time.monotonic() - started)

    async def read_frames(self, requests: bytes, timeout: float) -> CommandResult:
        """Read in a thread of this process, as the remote agent reads on its host."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                frames = await asyncio.to_thread(read_frames, requests)
        except TimeoutError:
            raise BackendUnavailable(f"local: a read of files did not finish within {timeout:g} s") from None
        return CommandResult(READ_FRAMES, 0, frames, b"", time.monotonic() - started)

    def take_notices(self) -> list[str]:
        """Nothing to tell: a local command is always a subprocess."""
        return []

    async def close(self) -> None:
        """Nothing to release: every call owns its process."""


@contextmanager
def _output_file() -> Iterator[int | None]:
    """A file descriptor of an in-memory file for a command's output, closed afterwards; None where
    there is none (then the output goes through a pipe)."""
    try:
        fd: int | None = os.memfd_create("jobdeck-output", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        fd = None
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def _read_from_start(fd: int) -> bytes:
    """Everything written to the file (the command moved the offset they share to its end)."""
    size = os.fstat(fd).st_size
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """Kill the session the command started in (it leads it, so its pid is the group id)."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


def command_line(argv: Sequence[str]) -> str:
    """The command as one short shell-quoted line, for error messages of both runners."""
    text = shlex.join(argv)
    return text if len(text) <= 120 else text[:117] + "..."
