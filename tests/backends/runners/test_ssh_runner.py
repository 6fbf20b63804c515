"""The SSH runner against the real loopback sshd: connection reuse, host keys, failures, reconnects."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh
import pytest

from backends.runners.ssh import SshRunner
from monitor.errors import BackendUnavailable, InputError

if TYPE_CHECKING:
    from tests.backends.runners.conftest import SshServer

pytestmark = pytest.mark.ssh


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


async def serving_sshd(runner: SshRunner, server: SshServer) -> int:
    """The sshd process that serves this runner's connection: the listener's child above our command."""
    pid = int((await runner.run(["sh", "-c", "echo $PPID"])).stdout)
    while (parent := parent_pid(pid)) != server.listener_pid:
        assert parent > 1, "the command does not run under the test sshd"
        pid = parent
    return pid


def host_key_runner(server: SshServer, known_hosts: Path, *, accept_new: bool = False) -> SshRunner:
    return SshRunner(
        server.alias, config_paths=[server.config], known_hosts=known_hosts, accept_new_host_key=accept_new
    )


async def test_description_names_user_host_and_port(ssh_runner: SshRunner, ssh_server: SshServer) -> None:
    assert ssh_runner.description == f"ssh {ssh_server.user}@{ssh_server.hostname}:{ssh_server.port}"


async def test_calls_reuse_one_connection(ssh_runner: SshRunner) -> None:
    assert ssh_runner.health.connects == 0
    before = time.time()
    for index in range(20):
        result = await ssh_runner.run(["echo", str(index)])
        assert result.stdout == f"{index}\n".encode()
    health = ssh_runner.health
    assert (health.connected, health.connects, health.last_error) == (True, 1, None)
    assert health.last_ok is not None and health.last_ok >= before


async def test_concurrent_calls_share_the_connection(ssh_runner: SshRunner) -> None:
    calls = [ssh_runner.run(["sh", "-c", 'sleep 0.2; echo "$1"', "sh", str(index)]) for index in range(10)]
    results = await asyncio.gather(*calls)
    assert [result.stdout for result in results] == [f"{index}\n".encode() for index in range(10)]
    assert ssh_runner.health.connects == 1


async def test_connection_survives_a_timed_out_call(ssh_runner: SshRunner) -> None:
    with pytest.raises(BackendUnavailable, match="jobdeck-test"):
        await ssh_runner.run(["sleep", "30"], timeout=0.5)
    assert (await ssh_runner.run(["true"])).ok
    assert ssh_runner.health.connects == 1


async def test_unreachable_host_fails_fast_and_backs_off(closed_port: int, tmp_path: Path) -> None:
    runner = SshRunner(
        "127.0.0.1",
        port=closed_port,
        config_paths=[],
        known_hosts=tmp_path / "known_hosts",
        connect_timeout=3,
        backoff_base=0.2,
        backoff_cap=0.3,
    )
    started = time.monotonic()
    with pytest.raises(
        BackendUnavailable, match=r"^ssh 127\.0\.0\.1: unreachable \(.*\); retrying in 0\.2 s$"
    ):
        await runner.run(["true"])
    assert time.monotonic() - started < 3
    with pytest.raises(BackendUnavailable, match=r"unreachable .*retrying in 0\.[12] s"):
        await runner.run(["true"])  # inside the window: no new attempt
    await asyncio.sleep(0.25)
    with pytest.raises(BackendUnavailable, match=r"retrying in 0\.3 s$"):  # doubled, then capped
        await runner.run(["true"])
    health = runner.health
    assert (health.connected, health.connects, health.last_ok) == (False, 0, None)
    assert health.last_error is not None and "unreachable" in health.last_error


async def test_unknown_host_name_is_named(tmp_path: Path) -> None:
    runner = SshRunner("jobdeck-no-such-host.invalid", config_paths=[], known_hosts=tmp_path / "kh")
    with pytest.raises(BackendUnavailable, match=r"^ssh jobdeck-no-such-host\.invalid: unreachable"):
        await runner.run(["true"], timeout=10)


async def test_wrong_identity_is_an_auth_failure(
    ssh_server: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    identity = tmp_path / "stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(identity))
    runner = SshRunner(ssh_server.alias, config_paths=[ssh_server.config], identity_file=identity)
    with pytest.raises(BackendUnavailable, match=rf"^ssh {ssh_server.alias}: authentication failed"):
        await runner.run(["true"], timeout=10)


def test_missing_identity_file_is_an_input_error(ssh_server: SshServer, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=rf"ssh {ssh_server.alias}: cannot use its settings"):
        SshRunner(ssh_server.alias, config_paths=[ssh_server.config], identity_file=tmp_path / "absent")


@pytest.mark.parametrize("accept_new", [False, True])
async def test_changed_host_key_is_refused(ssh_server: SshServer, tmp_path: Path, accept_new: bool) -> None:
    known_hosts = tmp_path / "known_hosts"
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    known_hosts.write_text(f"{ssh_server.known_hosts_entry} {impostor}")
    runner = host_key_runner(ssh_server, known_hosts, accept_new=accept_new)
    with pytest.raises(BackendUnavailable) as refused:
        await runner.run(["true"], timeout=10)
    message = str(refused.value)
    assert "differs" in message and "\n" not in message
    assert ssh_server.host_key.get_fingerprint("sha256") in message
    assert known_hosts.read_text() == f"{ssh_server.known_hosts_entry} {impostor}"


async def test_unknown_host_key_is_refused(ssh_server: SshServer, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.touch()
    with pytest.raises(BackendUnavailable) as refused:
        await host_key_runner(ssh_server, known_hosts).run(["true"], timeout=10)
    message = str(refused.value)
    assert "unknown host key" in message and "ssh-keyscan" in message and "accept_new_host_key" in message
    assert ssh_server.host_key.get_fingerprint("sha256") in message
    assert known_hosts.read_text() == ""


async def test_unknown_host_key_is_recorded_with_accept_new(ssh_server: SshServer, tmp_path: Path) -> None:
    known_hosts = tmp_path / "new" / "known_hosts"  # missing, like a fresh ~/.ssh
    first = host_key_runner(ssh_server, known_hosts, accept_new=True)
    assert (await first.run(["true"], timeout=10)).ok
    await first.close()
    recorded = asyncssh.read_known_hosts(str(known_hosts)).match(ssh_server.hostname, "", ssh_server.port)[0]
    assert recorded == [ssh_server.host_key]
    strict = host_key_runner(ssh_server, known_hosts)
    assert (await strict.run(["true"], timeout=10)).ok
    await strict.close()


async def test_reconnects_after_the_server_side_is_killed(
    ssh_runner: SshRunner, ssh_server: SshServer
) -> None:
    first = await serving_sshd(ssh_runner, ssh_server)
    os.kill(first, signal.SIGKILL)
    for _ in range(100):  # the client notices the closed socket asynchronously
        if not ssh_runner.health.connected:
            break
        await asyncio.sleep(0.05)
    health = ssh_runner.health
    assert not health.connected
    assert health.last_error is not None and "connection lost" in health.last_error
    second = await serving_sshd(ssh_runner, ssh_server)
    assert second != first
    health = ssh_runner.health
    assert (health.connected, health.connects, health.last_error) == (True, 2, None)


def test_env_names_must_be_names(closed_port: int) -> None:
    runner = SshRunner("127.0.0.1", port=closed_port, config_paths=[])
    with pytest.raises(ValueError, match="A=B"):
        asyncio.run(runner.run(["true"], env={"A=B": "x"}))
