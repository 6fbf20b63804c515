"""Outages of the test cluster's daemons (tests/infra/cluster.sh), always undone, and drops of the
SSH connections a process holds."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLUSTER_STATE = Path(os.environ.get("JOBDECK_TEST_CLUSTER", "/tmp/jobdeck-cluster"))
SSH_HOST = os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")


@dataclass(frozen=True)
class Daemon:
    """A daemon started by tests/infra/cluster.sh: its pid file and the command line that starts it."""

    name: str
    argv: tuple[str, ...]
    ready: tuple[str, ...]  # a command that succeeds once it serves again

    @property
    def pid_file(self) -> Path:
        return CLUSTER_STATE / f"{self.name}.pid"

    def pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
            return pid
        return None


def _slurm_env() -> dict[str, str]:
    return {**os.environ, "SLURM_CONF": str(CLUSTER_STATE / "etc" / "slurm.conf")}


SLURMCTLD = Daemon("slurmctld", ("/usr/sbin/slurmctld", "-i"), ("scontrol", "ping"))
SLURMDBD = Daemon("slurmdbd", ("/usr/sbin/slurmdbd",), ("sacctmgr", "-n", "show", "cluster"))
SSHD = Daemon(
    "sshd",
    ("/usr/sbin/sshd", "-f", str(CLUSTER_STATE / "ssh" / "sshd_config"), "-E", str(CLUSTER_STATE / "log" / "sshd.log")),
    ("ssh", "-F", str(CLUSTER_STATE / "ssh" / "config"), "-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "jobdeck-test", "true"),
)  # fmt: skip


@dataclass
class Outage:
    """How long a daemon was down, for the figures."""

    daemon: str
    stopped_at: float = 0.0
    seconds: float = 0.0
    restarted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def until(condition: Any, limit: float, what: str) -> Any:
    """The first true value of `condition()`, asked every 0.1 s for at most `limit` seconds."""
    deadline = time.monotonic() + limit
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {limit:g} s"
        time.sleep(0.1)
    return value


def _ready(daemon: Daemon) -> bool:
    probe = subprocess.run(daemon.ready, env=_slurm_env(), capture_output=True, timeout=20, check=False)
    return probe.returncode == 0


@contextlib.contextmanager
def stopped(daemon: Daemon, sig: int = signal.SIGTERM) -> Iterator[Outage]:
    """The daemon stopped for the length of the block, then started again with the command line
    tests/infra/cluster.sh uses, and waited for, whatever happened inside: other tests share this
    cluster, so keep the block to seconds. An sshd is stopped with its listener only: the sessions
    it serves are the block's to kill (see `ssh_sessions_of`)."""
    pid = daemon.pid()
    assert pid is not None, f"{daemon.name} is not running ({daemon.pid_file})"
    outage = Outage(daemon.name, time.time())
    os.kill(pid, sig)
    try:
        until(lambda: not _alive(pid), 20, f"{daemon.name} ({pid}) to stop")
        yield outage
    finally:
        outage.seconds = time.time() - outage.stopped_at
        if daemon.pid() is None:
            subprocess.run(daemon.argv, env=_slurm_env(), check=True, capture_output=True, timeout=60)
            outage.restarted = True
        until(lambda: _ready(daemon), 60, f"{daemon.name} to answer again")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie child of ours counts as gone
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True


def ssh_sessions_of(client_pid: int, port: int) -> list[int]:
    """The sshd processes serving the TCP connections that process `client_pid` has to `port`."""
    mine = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( dport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ports = [line.split()[2].rsplit(":", 1)[1] for line in mine.splitlines() if f"pid={client_pid}," in line]
    served = []
    for local in ports:
        theirs = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{port} and dport = :{local} )"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        served += [int(p.split(",")[0]) for p in theirs.split("pid=")[1:]]
    return served


def ssh_port(ssh_config: Path) -> int:
    found = re.search(r"^\s*Port\s+(\d+)", ssh_config.read_text(), re.MULTILINE)
    assert found, f"no Port in {ssh_config}"
    return int(found.group(1))


def drop_connections(client: int, port: int) -> list[int]:
    """Kill the sshd processes serving `client`'s connections: the server side of a drop."""
    served = ssh_sessions_of(client, port)
    for pid in served:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return served
