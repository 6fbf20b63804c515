"""The client side of the remote agent (see backends/runners/remote_agent.py for its protocol).

An exec channel makes sshd start the user's login shell, and its rc files, for every command; the
agent pays that once per connection. Requests are written as they come and answers matched by id,
so commands overlap. An agent that stops answering, or answers out of form, is closed and every
command waiting on it fails: a caller gets an error, never another command's output.
"""

from __future__ import annotations

import asyncio
import itertools
import shlex
import zlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path

import asyncssh

_SCRIPT = (Path(__file__).with_name("remote_agent.py")).read_text(encoding="utf-8")
# The login shell's environment travels as an argument (hex of `env -0`): a wrapper that starts python3
# (pyenv's shim, a module system's) may change PATH and more, and commands must see the login's.
_LOGIN_ENV = " \"$(env -0 | od -An -v -tx1 | tr -d ' \\n')\""
READY = b"jobdeck-agent 1\n"
GRACE = 5.0  # how long past a command's timeout the agent may take to say it killed it
_JUNK_BEFORE_READY = 64 * 1024  # what rc files may print before the agent speaks
_KEPT_STDERR = 2048
_COMPRESS_FROM = 256 * 1024  # bytes of stdin from which a request is compressed


class AgentUnavailable(Exception):
    """The agent could not start here (no python3, say): commands go through exec channels."""


class AgentFailed(Exception):
    """The agent stopped answering or answered out of form; it is closed and a new one is needed."""


class CommandTimedOut(Exception):
    """The agent killed the command at its timeout."""


class Agent:
    """One running agent: `run` sends a command and waits for its own answer."""

    def __init__(self, process: asyncssh.SSHClientProcess[bytes]) -> None:
        self._process = process
        self._ids = itertools.count(1)
        self._waiting: dict[bytes, asyncio.Future[tuple[int, bytes, bytes]]] = {}
        self._stderr = bytearray()
        self.failure: str | None = None
        self._tasks = [
            asyncio.create_task(self._read_answers()),
            asyncio.create_task(self._keep_stderr()),
        ]

    @classmethod
    async def start(cls, conn: asyncssh.SSHClientConnection, python: str, timeout: float) -> Agent:
        """Start the agent with the host's `python` on `conn` and wait for it to say it is ready."""
        command = shlex.join(["exec", python, "-I", "-c", _SCRIPT]) + _LOGIN_ENV
        process = await conn.create_process(command, encoding=None)
        try:
            async with asyncio.timeout(timeout):
                seen = 0
                while (line := await process.stdout.readline()) != READY:
                    seen += len(line)
                    if not line or seen > _JUNK_BEFORE_READY:
                        stderr = await process.stderr.read(_KEPT_STDERR)
                        raise AgentUnavailable(_last_line(stderr, process.exit_status))
        except TimeoutError:
            process.close()
            raise AgentUnavailable(f"it did not start within {timeout:g} s") from None
        except (asyncssh.Error, OSError) as exc:
            process.close()
            raise AgentUnavailable(f"its channel failed ({exc})") from None
        except AgentUnavailable:
            process.close()
            raise
        return cls(process)

    @property
    def alive(self) -> bool:
        return self.failure is None

    async def run(
        self, argv: Sequence[str], input: bytes | None, timeout: float, env: Mapping[str, str]
    ) -> tuple[int, bytes, bytes]:
        """(exit code, stdout, stderr). CommandTimedOut when the agent killed it at `timeout`,
        AgentFailed when the agent did not answer in time or is broken (then it is closed)."""
        return await self._ask(lambda rid: encode_request(rid, argv, env, input or b"", timeout), timeout)

    async def read_frames(self, requests: bytes, timeout: float) -> tuple[int, bytes, bytes]:
        """The frames of backends/runners/frames.py for NUL-separated (path, offset, limit) triples,
        read by the agent itself (no command starts), answered as a command's would be."""
        return await self._ask(lambda rid: b"F %s %d\n%s" % (rid, len(requests), requests), timeout)

    async def _ask(self, request: Callable[[bytes], bytes], timeout: float) -> tuple[int, bytes, bytes]:
        """Send the request built for a new id and wait for its answer."""
        if self.failure is not None:
            raise AgentFailed(self.failure)
        rid = str(next(self._ids)).encode()
        future = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        try:
            self._process.stdin.write(request(rid))
            async with asyncio.timeout(timeout + GRACE):
                return await future
        except TimeoutError:
            self._fail(f"the agent did not answer within {timeout + GRACE:g} s")
            raise AgentFailed(self.failure) from None
        except asyncio.CancelledError:
            if self.failure is None:
                with suppress(asyncssh.Error, OSError):
                    self._process.stdin.write(b"K " + rid + b"\n")
            raise
        except (asyncssh.Error, OSError) as exc:
            self._fail(f"the agent's channel failed ({exc})")
            raise AgentFailed(self.failure) from None
        finally:
            self._waiting.pop(rid, None)

    async def close(self) -> None:
        self._fail("closed")
        for task in self._tasks:
            task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks)

    async def _read_answers(self) -> None:
        stdout = self._process.stdout
        try:
            while True:
                header = await stdout.readuntil(b"\n")
                kind, rid, *counts = header.split()
                if kind in (b"x", b"t"):  # compressed: the last count is the compressed length
                    body = zlib.decompress(await stdout.readexactly(int(counts.pop())))
                    kind = kind.upper()
                else:
                    body = await stdout.readexactly(int(counts[-2]) + int(counts[-1]))
                out, err = body[: int(counts[-2])], body[int(counts[-2]) :]
                if len(err) != int(counts[-1]):
                    raise ValueError(f"answer of {len(body)} bytes for {header[:80]!r}")
                future = self._waiting.get(rid)
                if future is None or future.done():
                    continue  # its caller gave up (the kill request crossed the answer)
                if kind == b"X" and len(counts) == 3:
                    future.set_result((int(counts[0]), out, err))
                elif kind == b"T" and len(counts) == 2:
                    future.set_exception(CommandTimedOut())
                else:
                    raise ValueError(f"unknown answer {header[:80]!r}")
        except asyncio.IncompleteReadError:
            self._fail(f"the agent exited ({_last_line(self._stderr, self._process.exit_status)})")
        except (ValueError, IndexError, zlib.error, asyncssh.Error, OSError) as exc:
            self._fail(f"the agent answered out of form ({exc})")

    async def _keep_stderr(self) -> None:
        """Drain the agent's own stderr (a full window would stall it), keeping its last lines."""
        with suppress(asyncssh.Error, OSError):
            while chunk := await self._process.stderr.read(65536):
                self._stderr = (self._stderr + chunk)[-_KEPT_STDERR:]

    def _fail(self, reason: str) -> None:
        """Close the agent once; every command still waiting fails with `reason`."""
        if self.failure is not None:
            return
        self.failure = reason
        self._process.close()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(AgentFailed(reason))


def encode_request(
    rid: bytes, argv: Sequence[str], env: Mapping[str, str], data: bytes, timeout: float
) -> bytes:
    """A run request: each argument and NAME=value travels as counted bytes, never parsed by a shell;
    a large stdin compressed."""
    words = [w.encode(errors="surrogateescape") for w in (*argv, *(f"{k}={v}" for k, v in env.items()))]
    lengths = " ".join(str(len(w)) for w in words)
    kind = "R"
    if len(data) >= _COMPRESS_FROM:
        kind, data = "r", zlib.compress(data, 1)
    header = f"{kind} {rid.decode()} {timeout!r} {len(data)} {len(argv)} {len(env)} {lengths}\n".encode()
    return b"".join((header, *words, data))


def _last_line(stderr: bytes | bytearray, exit_status: int | None) -> str:
    """The last line the agent (or the login shell before it) printed on stderr, for messages."""
    lines = bytes(stderr).decode(errors="replace").strip().splitlines()
    if lines:
        return lines[-1][:300]
    return "no message" if exit_status is None else f"exit status {exit_status}"
