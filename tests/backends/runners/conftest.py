"""Fixtures for the runner tests: the loopback sshd described by an ssh_config, and both runners."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from backends.runners.base import Runner
from backends.runners.local import LocalRunner
from backends.runners.ssh import SshRunner

DEFAULT_SSH_CONFIG = Path("/tmp/jobdeck-cluster/ssh/config")


@dataclass(frozen=True, slots=True)
class SshServer:
    """The test sshd as its ssh_config describes it, plus what the tests need to judge it."""

    config: Path
    alias: str
    hostname: str
    port: int
    user: str
    host_key: asyncssh.SSHKey  # the server's key, as the config's known_hosts records it
    listener_pid: int  # the sshd that accepts connections (its children serve one each)

    @property
    def known_hosts_entry(self) -> str:
        return f"[{self.hostname}]:{self.port}"


def _unavailable(why: str) -> None:
    """Skip locally, fail in CI (real-server tests must run there)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI=true: the sshd tests must run)")
    pytest.skip(why)


@pytest.fixture(scope="session")
def ssh_server() -> SshServer:
    config = Path(os.environ.get("JOBDECK_TEST_SSH_CONFIG") or DEFAULT_SSH_CONFIG)
    alias = os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")
    if not config.is_file():
        _unavailable(f"no test ssh_config at {config}")
    options = asyncssh.SSHClientConnectionOptions(host=alias, config=[str(config)])
    try:
        socket.create_connection((options.host, options.port), timeout=5).close()
    except OSError as exc:
        _unavailable(f"no sshd answers at {options.host}:{options.port} ({exc})")
    if not options.known_hosts:
        _unavailable(f"{config} names no UserKnownHostsFile for {alias}")
    recorded = asyncssh.read_known_hosts(list(options.known_hosts)).match(options.host, "", options.port)[0]
    pid_file = config.parent.parent / "sshd.pid"
    if not recorded or not pid_file.is_file():
        _unavailable(f"{config} names no known_hosts entry for {alias}, or {pid_file} is missing")
    return SshServer(
        config, alias, options.host, options.port, options.username, recorded[0], int(pid_file.read_text())
    )


def ssh_runner_for(server: SshServer, agent_python: str | None = "python3") -> SshRunner:
    return SshRunner(server.alias, config_paths=[server.config], backoff_base=0.1, agent_python=agent_python)


@pytest.fixture
async def ssh_runner(ssh_server: SshServer) -> AsyncIterator[SshRunner]:
    runner = ssh_runner_for(ssh_server)
    yield runner
    await runner.close()


@pytest.fixture(params=["local", "ssh", "ssh-exec"])
async def runner(request: pytest.FixtureRequest) -> AsyncIterator[Runner]:
    """Each behaviour test runs once per runner; the ssh ones need the test sshd. "ssh" sends every
    command to the agent, "ssh-exec" (a host without one) starts an exec channel per command."""
    chosen: Runner = (
        LocalRunner()
        if request.param == "local"
        else ssh_runner_for(
            request.getfixturevalue("ssh_server"), "python3" if request.param == "ssh" else None
        )
    )
    yield chosen
    await chosen.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
