"""Runs commands on a remote host over one reused asyncssh connection, reconnecting with backoff.

Commands go to one agent per connection (backends/runners/agent.py), which spares each of them the
login shell an exec channel starts; where no agent can start, they go through exec channels."""

from __future__ import annotations

import asyncio
import re
import shlex
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import asyncssh

from backends.runners.agent import Agent, AgentFailed, AgentUnavailable, CommandTimedOut
from backends.runners.base import READ_FRAMES, CommandResult
from backends.runners.local import command_line
from backends.runners.ssh_target import HostKeyCheck, SshTarget, resolve_target
from monitor.errors import BackendUnavailable

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class SshHealth:
    """The connection as the status bar shows it; `last_ok` is the epoch time of the last answer."""

    connected: bool
    last_ok: float | None
    last_error: str | None
    connects: int


class SshRunner:
    """A `Runner` over SSH: one lazily opened connection shared by all calls, one agent on it taking
    every command; without an agent, one exec channel per command, at most `max_channels` at a time."""

    def __init__(
        self,
        host: str,
        *,
        port: int | None = None,
        user: str | None = None,
        identity_file: str | Path | None = None,
        known_hosts: str | Path | None = None,
        config_paths: Sequence[str | Path] | None = None,
        connect_timeout: float = 10.0,
        accept_new_host_key: bool = False,
        max_channels: int = 8,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        agent_python: str | None = "python3",
    ) -> None:
        self._target: SshTarget = resolve_target(
            host,
            port=port,
            user=user,
            identity_file=identity_file,
            known_hosts=known_hosts,
            config_paths=config_paths,
            connect_timeout=connect_timeout,
        )
        self.description = self._target.description
        self._connect_timeout = connect_timeout
        self._accept_new = accept_new_host_key
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._channels = asyncio.Semaphore(max_channels)
        self._connect_lock = asyncio.Lock()
        self._conn: asyncssh.SSHClientConnection | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._last_ok: float | None = None
        self._last_error: str | None = None
        self._connects = 0
        self._agent_python = agent_python  # None: an exec channel per command
        self._agent_lock = asyncio.Lock()
        self._agent: Agent | None = None
        self._agent_conn: asyncssh.SSHClientConnection | None = None  # the connection it runs on
        self._no_agent_on: asyncssh.SSHClientConnection | None = None  # where it could not start
        self._notices: list[str] = []
        self._said: set[str] = set()
        self.agents_started = 0

    @property
    def health(self) -> SshHealth:
        return SshHealth(self._live() is not None, self._last_ok, self._last_error, self._connects)

    async def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run argv remotely, each argument arriving literally; `timeout` covers connect and run."""
        argv = tuple(argv)
        env = _checked_env(env or {})
        started = time.monotonic()

        async def by_agent(agent: Agent, left: float) -> tuple[int, bytes, bytes]:
            return await agent.run(argv, input, left, env)

        async def by_exec(conn: asyncssh.SSHClientConnection) -> tuple[int, bytes, bytes]:
            async with self._channels:
                return await self._exec(conn, _remote_command(argv, env), input)

        answer = await self._call(command_line(argv), timeout, by_agent, by_exec)
        assert answer is not None  # by_exec always answers
        return CommandResult(argv, *answer, time.monotonic() - started)

    async def read_frames(self, requests: bytes, timeout: float) -> CommandResult | None:
        """Byte ranges read by the agent (see Runner.read_frames); None where there is no agent."""
        started = time.monotonic()

        async def by_agent(agent: Agent, left: float) -> tuple[int, bytes, bytes]:
            return await agent.read_frames(requests, left)

        answer = await self._call("a read of files", timeout, by_agent, None)
        return None if answer is None else CommandResult(READ_FRAMES, *answer, time.monotonic() - started)

    async def _call(
        self,
        what: str,
        timeout: float,
        by_agent: Callable[[Agent, float], Awaitable[tuple[int, bytes, bytes]]],
        by_exec: Callable[[asyncssh.SSHClientConnection], Awaitable[tuple[int, bytes, bytes]]] | None,
    ) -> tuple[int, bytes, bytes] | None:
        """(exit code, stdout, stderr) from the agent, else from `by_exec` (None without it).
        `timeout` covers connecting too; every failure is BackendUnavailable naming host and `what`."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                conn = await self._connection()
                agent = await self._agent_on(conn)
                if agent is None:
                    answer = await by_exec(conn) if by_exec is not None else None
            if agent is not None:
                answer = await by_agent(agent, max(0.001, started + timeout - time.monotonic()))
        except (TimeoutError, CommandTimedOut) as exc:
            killed = " and was killed" if isinstance(exc, CommandTimedOut) else ""
            raise BackendUnavailable(
                f"ssh {self._target.name}: {what} did not finish within {timeout:g} s{killed}"
            ) from None
        except AgentFailed as exc:
            raise BackendUnavailable(
                f"ssh {self._target.name}: {what} got no answer: {exc}; the next command starts a new agent"
            ) from None
        except (OSError, asyncssh.Error) as exc:
            raise BackendUnavailable(f"ssh {self._target.name}: {what} failed ({exc})") from None
        self._last_ok = time.time()
        return answer

    def take_notices(self) -> list[str]:
        """What the user should be told once (no agent on this host), since the last call."""
        notices, self._notices = self._notices, []
        return notices

    async def close(self) -> None:
        """Close the agent and the connection; a later run() opens new ones."""
        agent, self._agent = self._agent, None
        if agent is not None:
            await agent.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            await conn.wait_closed()

    async def _agent_on(self, conn: asyncssh.SSHClientConnection) -> Agent | None:
        """The agent on `conn`, started by the first caller; None where none can start there."""
        async with self._agent_lock:
            agent = self._agent
            if agent is not None and agent.alive and self._agent_conn is conn:
                return agent
            if self._agent_python is None or self._no_agent_on is conn:
                return None
            self._agent = None
            if agent is not None:
                await agent.close()
            try:
                self._agent = await Agent.start(conn, self._agent_python, self._connect_timeout)
            except AgentUnavailable as exc:
                self._no_agent_on = conn
                self._say_once(
                    f"ssh {self._target.name}: no command agent ({exc}); every command starts a "
                    "login shell there instead, which is slower"
                )
                return None
            self._agent_conn = conn
            self.agents_started += 1
            return self._agent

    def _say_once(self, notice: str) -> None:
        if notice not in self._said:
            self._said.add(notice)
            self._notices.append(notice)

    async def _exec(
        self, conn: asyncssh.SSHClientConnection, command: str, input: bytes | None
    ) -> tuple[int, bytes, bytes]:
        """One exec channel, closed on the way out even when the call is cancelled by its timeout."""
        process = await conn.create_process(
            command, input=input or None, stdin=asyncssh.PIPE if input else asyncssh.DEVNULL, encoding=None
        )
        try:
            completed = await process.wait()
        finally:
            process.close()
        if completed.returncode is None:
            raise asyncssh.ConnectionLost("no exit status (connection lost)")
        return completed.returncode, cast(bytes, completed.stdout), cast(bytes, completed.stderr)

    async def _connection(self) -> asyncssh.SSHClientConnection:
        """The shared connection, opened by the first caller; fails fast inside the backoff window."""
        async with self._connect_lock:
            if (conn := self._live()) is not None:
                return conn
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                raise BackendUnavailable(
                    f"ssh {self._target.name}: {self._last_error}; retrying in {wait:.1f} s"
                )
            self._conn = await self._connect()
            return self._conn

    def _live(self) -> asyncssh.SSHClientConnection | None:
        conn = self._conn
        return conn if conn is not None and not conn.is_closed() else None

    async def _connect(self) -> asyncssh.SSHClientConnection:
        check = HostKeyCheck(self._target, self._accept_new)
        try:
            conn = await asyncssh.connect(
                **self._target.connect_kwargs,
                known_hosts=check.load_known_hosts(),
                client_factory=lambda: _Client(check, self._lost),
            )
        except (OSError, ValueError, asyncssh.Error) as exc:
            self._failures += 1
            delay = min(self._backoff_cap, self._backoff_base * 2 ** (self._failures - 1))
            self._retry_at = time.monotonic() + delay
            self._last_error = check.refusal or self._reason(exc)
            raise BackendUnavailable(
                f"ssh {self._target.name}: {self._last_error}; retrying in {delay:g} s"
            ) from None
        self._failures = 0
        self._connects += 1
        self._last_ok = time.time()
        self._last_error = None
        return conn

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return f"unreachable (no answer within {self._connect_timeout:g} s)"
        if isinstance(exc, asyncssh.PermissionDenied):
            return f"authentication failed ({exc.reason}); no password is ever tried"
        return f"unreachable ({' '.join(str(exc).split()) or type(exc).__name__})"

    def _lost(self, conn: asyncssh.SSHClientConnection, exc: Exception | None) -> None:
        """Note why the shared connection dropped; the next call sees it closed and reconnects."""
        if conn is self._conn and exc is not None:
            self._last_error = f"connection lost ({exc})"


class _Client(asyncssh.SSHClient):
    """Routes asyncssh's callbacks: host key verdicts to the check, connection loss to the runner."""

    def __init__(
        self,
        check: HostKeyCheck,
        lost: Callable[[asyncssh.SSHClientConnection, Exception | None], None],
    ) -> None:
        self._check = check
        self._lost = lost
        self._conn: asyncssh.SSHClientConnection | None = None

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self._conn = conn

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._lost(self._conn, exc)

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        return self._check.judge(host, addr, port, key)


def _checked_env(env: Mapping[str, str]) -> Mapping[str, str]:
    bad = [name for name in env if not _ENV_NAME.fullmatch(name)]
    if bad:
        raise ValueError(f"invalid environment variable name(s): {', '.join(bad)}")
    return env


def _remote_command(argv: tuple[str, ...], env: Mapping[str, str]) -> str:
    """The exec string: every argument shell-quoted; env set through `env` since sshd refuses setenv."""
    prefix = ["env", *(f"{name}={value}" for name, value in env.items())] if env else []
    return shlex.join([*prefix, *argv])
