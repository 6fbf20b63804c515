"""The SSH runner's command agent on the real loopback sshd: one agent per connection, the login's
environment, a hung command or a killed agent costs no more than itself, and the fallback."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from backends.runners.ssh import SshRunner
from monitor.errors import BackendUnavailable

if TYPE_CHECKING:
    from tests.backends.runners.conftest import SshServer

pytestmark = pytest.mark.ssh

# Environment variables that differ between any two sessions, or that a shell sets for itself.
_PER_SESSION = {"_", "SHLVL", "PWD", "OLDPWD", "SSH_CLIENT", "SSH_CONNECTION"}


async def command_parent(runner: SshRunner) -> int:
    return int((await runner.run(["sh", "-c", "echo $PPID"])).stdout)


def running(argv: list[str]) -> bool:
    """Whether a process with exactly this command line runs on this machine (the sshd is local)."""
    wanted = "\0".join(argv).encode() + b"\0"
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == wanted:
                return True
        except OSError:
            continue
    return False


async def wait_until(check: object, seconds: float = 10.0) -> None:
    """Poll `check()` until true, at most `seconds`."""
    async with asyncio.timeout(seconds):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def environment(runner: SshRunner) -> dict[str, str]:
    out = (await runner.run(["env", "-0"])).stdout.decode(errors="replace")
    pairs = (entry.split("=", 1) for entry in out.split("\0") if "=" in entry)
    return {name: value for name, value in pairs if name not in _PER_SESSION}


async def test_commands_run_under_one_agent_not_a_shell_each(ssh_runner: SshRunner) -> None:
    parents = {await command_parent(ssh_runner) for _ in range(5)}
    assert len(parents) == 1 and ssh_runner.agents_started == 1
    assert b"python" in Path(f"/proc/{parents.pop()}/cmdline").read_bytes()


async def test_commands_see_the_environment_of_an_exec_channel(
    ssh_runner: SshRunner, ssh_server: SshServer
) -> None:
    channels = SshRunner(ssh_server.alias, config_paths=[ssh_server.config], agent_python=None)
    try:
        assert await environment(ssh_runner) == await environment(channels)
    finally:
        await channels.close()
    assert channels.agents_started == 0


async def test_a_hung_command_is_killed_at_its_timeout_and_costs_only_itself(ssh_runner: SshRunner) -> None:
    await ssh_runner.run(["true"])  # connected and the agent started: the 1 s is the command's alone
    hung_argv = ["sleep", "31.7"]
    hung = asyncio.create_task(ssh_runner.run(hung_argv, timeout=1))
    await wait_until(lambda: running(hung_argv))
    assert (await ssh_runner.run(["echo", "meanwhile"])).stdout == b"meanwhile\n"
    with pytest.raises(BackendUnavailable, match=r"sleep 31.7 did not finish within 1 s and was killed"):
        await hung
    await wait_until(lambda: not running(hung_argv))
    assert (await ssh_runner.run(["echo", "after"])).stdout == b"after\n"
    assert ssh_runner.agents_started == 1


async def test_a_command_whose_caller_gives_up_is_killed(ssh_runner: SshRunner) -> None:
    argv = ["sleep", "32.3"]
    call = asyncio.create_task(ssh_runner.run(argv, timeout=60))
    await wait_until(lambda: running(argv))
    call.cancel()
    await wait_until(lambda: not running(argv))
    assert (await ssh_runner.run(["echo", "still"])).stdout == b"still\n"
    assert ssh_runner.agents_started == 1


async def test_a_killed_agent_fails_its_commands_and_the_next_command_starts_another(
    ssh_runner: SshRunner,
) -> None:
    agent = await command_parent(ssh_runner)
    waiting = asyncio.create_task(ssh_runner.run(["sleep", "33.1"], timeout=60))
    await wait_until(lambda: running(["sleep", "33.1"]))
    os.kill(agent, signal.SIGKILL)
    with pytest.raises(BackendUnavailable, match=r"sleep 33.1 got no answer: the agent .*new agent"):
        await waiting
    assert await command_parent(ssh_runner) != agent
    assert (ssh_runner.agents_started, ssh_runner.health.connects) == (2, 1)


async def test_large_binary_output_arrives_whole(ssh_runner: SshRunner, tmp_path: Path) -> None:
    data = bytes(range(256)) * 12_000 + b"\n\0 no newline at the end"
    (tmp_path / "blob").write_bytes(data)
    result = await ssh_runner.run(["cat", str(tmp_path / "blob")])
    assert result.stdout == data and result.ok


async def test_large_input_and_output_of_any_bytes_arrive_whole(ssh_runner: SshRunner) -> None:
    data = os.urandom(1 << 20) + bytes(range(256)) * 4096  # what compresses and what does not
    result = await ssh_runner.run(["sh", "-c", 'cat; cat "$0" >&2', "/proc/self/cmdline"], input=data)
    assert (result.stdout, result.ok) == (data, True) and result.stderr.startswith(b"cat\0")


async def test_without_an_agent_commands_use_exec_channels_and_say_so_once(ssh_server: SshServer) -> None:
    runner = SshRunner(
        ssh_server.alias, config_paths=[ssh_server.config], agent_python="/nonexistent/python3"
    )
    try:
        for word in ("one", "two"):
            assert (await runner.run(["echo", word])).stdout == f"{word}\n".encode()
        notices = runner.take_notices()
        assert runner.take_notices() == [] and runner.agents_started == 0
    finally:
        await runner.close()
    assert len(notices) == 1
    assert "no command agent" in notices[0] and "/nonexistent/python3" in notices[0]
