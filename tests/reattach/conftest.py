"""Fixtures for the re-attach scenarios (issue 5): the real `jobdeck` console script, with monitors
(`attach --no-tui`) started as subprocesses and SIGKILLed mid-session, against the real SLURM cluster
reached on this machine ("local") or through the loopback sshd ("ssh"), whose controller can be
stopped for a few seconds and is always started again.

Every wait is a loop with a deadline. Every name a test gives SLURM carries a random suffix, so
`sacct --name` counts exactly that test's submissions; every job of those names is cancelled at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

JOBS = Path(__file__).resolve().parent / "jobs"
SSH_HOST = os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")

Rows = dict[str, dict[str, Any]]  # `list --json` rows by job name (the scenarios use no arrays)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from monitor_process import (  # noqa: E402, F401
    DeckFolder,
    Monitor,
    NotInTime,
    alive,
    children,
    jobdeck_command,
    shown,
    toml,
    wait_for,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking `transport` runs on this machine and through SSH."""
    if "transport" in metafunc.fixturenames:
        metafunc.parametrize(
            "transport",
            [
                pytest.param("local", marks=pytest.mark.cluster, id="local"),
                pytest.param("ssh", marks=[pytest.mark.cluster, pytest.mark.ssh], id="ssh"),
            ],
            indirect=True,
        )


# -- the cluster --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transport:
    """How jobdeck reaches the cluster: its environment and the manifest's cluster table."""

    name: str
    env: dict[str, str]
    host: str | None = None

    def cluster(self, workdir: Path) -> dict[str, Any]:
        return {"backend": "slurm", "workdir": str(workdir), **({"host": self.host} if self.host else {})}


def _transport(name: str, slurm_conf: str, ssh_config: Path | None = None) -> Transport:
    if ssh_config is None:
        return Transport(name, {"SLURM_CONF": slurm_conf})
    return Transport(name, {"SLURM_CONF": slurm_conf, "JOBDECK_SSH_CONFIG": str(ssh_config)}, SSH_HOST)


@pytest.fixture
def transport(request: pytest.FixtureRequest, slurm_conf: str) -> Transport:
    ssh_config = request.getfixturevalue("ssh_config") if request.param == "ssh" else None
    return _transport(request.param, slurm_conf, ssh_config)


@pytest.fixture
def local(slurm_conf: str) -> Transport:
    return _transport("local", slurm_conf)


class Slurm:
    """The test cluster as a user and an admin see it: commands on this machine, accounting counts,
    and the controller stopped and started as tests/infra/cluster.sh starts it."""

    def __init__(self, conf: str) -> None:
        self.conf = conf

    def run(self, *argv: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """A SLURM command on this machine; it must succeed."""
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "SLURM_CONF": self.conf, **(env or {})},
        )
        assert result.returncode == 0, shown(result)
        return result

    def submissions(self, name: str) -> list[str]:
        """Every distinct job ID SLURM gave the name (queue and accounting: accounting may lag)."""
        queue = self.run("squeue", "-h", "-t", "all", "-o", "%i", f"--name={name}").stdout.split()
        return sorted(set(queue) | set(self.runs(name)), key=int)

    def runs(self, name: str) -> list[str]:
        """The name's accounting rows: `-D` keeps every requeued run of one ID as a row of its own."""
        argv = ["sacct", "-X", "-D", "-n", "-P", f"--name={name}", "-S", "now-1hour", "-o", "JobID"]
        return self.run(*argv).stdout.split()

    def accounting(self, job_id: str) -> dict[str, str]:
        """The job's last accounting row: State, ExitCode, End (epoch seconds), Comment."""
        fields = ("JobID", "State", "ExitCode", "End", "Comment")
        argv = ["sacct", "-X", "-n", "-P", "-j", job_id, "-S", "now-1hour", "-o", ",".join(fields)]
        out = self.run(*argv, env={"SLURM_TIME_FORMAT": "%s"}).stdout
        rows = [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines() if line]
        return rows[-1] if rows else {}

    def held(self, job_id: str) -> dict[str, str] | None:
        """`scontrol show job` as a dict; None once the controller purged the job (MinJobAge)."""
        env = {**os.environ, "SLURM_CONF": self.conf}
        held = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True,
                              timeout=30, env=env)  # fmt: skip
        if held.returncode != 0 and "invalid job id" in held.stderr.lower():
            return None
        assert held.returncode == 0, shown(held)
        return dict(word.split("=", 1) for word in held.stdout.split() if "=" in word)

    def sbatch(self, workdir: Path, name: str, *args: str, comment: str | None = None) -> str:
        """What a user does by hand: sbatch the job script again under the same name."""
        argv = ["sbatch", "--parsable", f"--job-name={name}", f"--chdir={workdir}"]
        argv += [f"--comment={comment}"] if comment else []
        return self.run(*argv, str(workdir / "act.sh"), *args).stdout.strip().split(";")[0]

    @property
    def pid_file(self) -> Path:
        match = re.search(r"^SlurmctldPidFile=(\S+)", Path(self.conf).read_text(), re.MULTILINE)
        assert match, f"no SlurmctldPidFile in {self.conf}"
        return Path(match[1])

    def running(self) -> bool:
        """A live slurmctld wrote the pid file (it removes the file when it stops)."""
        try:
            return alive(int(self.pid_file.read_text()))
        except (OSError, ValueError):
            return False

    def answers(self) -> bool:
        env = {**os.environ, "SLURM_CONF": self.conf}
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30, env=env)
        return ping.returncode == 0 and "UP" in ping.stdout

    @contextlib.contextmanager
    def controller_down(self) -> Iterator[None]:
        """slurmctld stopped (SIGTERM: it saves its state) for the body, then always started again
        and waited for. Other tests share this cluster: keep the body to seconds."""
        pid = int(self.pid_file.read_text())
        os.kill(pid, signal.SIGTERM)
        try:
            wait_for(lambda: not alive(pid), 30, f"slurmctld {pid} to stop", every=0.1)
            yield
        finally:
            if not self.running():  # not `scontrol ping`: against a stopped controller it retries for seconds
                subprocess.run(["/usr/sbin/slurmctld", "-i"], env={**os.environ, "SLURM_CONF": self.conf},
                               check=True, timeout=30)  # fmt: skip
            wait_for(self.answers, 30, "slurmctld to answer `scontrol ping` again", every=0.2)


@pytest.fixture
def slurm(slurm_conf: str) -> Slurm:
    return Slurm(slurm_conf)


# -- jobdeck ------------------------------------------------------------------------------------


@dataclass
class Deck(DeckFolder):
    """`jobdeck --db <folder>/state/jobdeck.db` with the job scripts in <folder>/work, for one
    session whose name (like every SLURM name it uses) carries a random suffix."""

    JOBS = JOBS

    transports: dict[str, Transport]
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    names: list[str] = field(default_factory=list)
    monitors: list[Monitor] = field(default_factory=list)

    wait_for = staticmethod(wait_for)
    NotInTime = NotInTime

    @property
    def session(self) -> str:
        return f"reattach-{self.suffix}"

    @property
    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
        return base | {k: v for t in self.transports.values() for k, v in t.env.items()}

    def name(self, role: str) -> str:
        """A job name no other test (nor an earlier run) uses."""
        self.names.append(f"{role}-{self.suffix}")
        return self.names[-1]

    def manifest(self, jobs: Sequence[Mapping[str, Any]], file: str = "session.toml", **session: Any) -> Path:
        """A TOML manifest of this session; jobs run act.sh unless they say otherwise."""
        lines = [
            "[session]",
            f"name = {toml(self.session)}",
            *(f"{k} = {toml(v)}" for k, v in session.items()),
        ]
        for name, transport in self.transports.items():
            lines += ["", f"[clusters.{name}]"]
            lines += [f"{k} = {toml(v)}" for k, v in transport.cluster(self.workdir).items()]
        for job in jobs:
            lines += ["", "[[jobs]]", *(f"{k} = {toml(v)}" for k, v in ({"script": "act.sh"} | job).items())]
        path = self.workdir / file
        path.write_text("\n".join(lines) + "\n")
        return path

    def command(self, *args: str) -> list[str]:
        return [jobdeck_command(), "--db", str(self.db), *args]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.folder,
            timeout=timeout,
        )

    def json(self, *args: str, timeout: float = 60) -> Any:
        result = self.run(*args, "--json", timeout=timeout)
        assert result.returncode == 0, shown(result)
        return json.loads(result.stdout)

    def submit(self, manifest: Path) -> dict[str, dict[str, Any]]:
        outcomes = {o["name"]: o for o in self.json("submit", str(manifest), "--no-tui")}
        assert all(o["error"] is None and o["job_id"] for o in outcomes.values()), outcomes
        return outcomes

    def submit_pending(self) -> list[dict[str, Any]]:
        """`submit-pending --session`: the submissions it made."""
        return self.json("submit-pending", "--session", self.session)["submissions"]

    def jobs(self) -> Rows:
        """The session's jobs; none before the session exists."""
        return {j["name"]: j for j in self.json("list") if j["session"] == self.session}

    def status(self, job: str) -> dict[str, Any]:
        return self.json("status", f"{self.session}/{job}")

    def start(self, *args: str) -> Monitor:
        """jobdeck in a process group of its own (so a test can kill it and whatever it started)."""
        out = self.folder / f"monitor-{len(self.monitors)}.out"
        err = out.with_suffix(".err")
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                self.command(*args), stdout=stdout, stderr=stderr, env=self.env, cwd=self.folder,
                start_new_session=True,
            )  # fmt: skip
        self.monitors.append(Monitor(process, out, err))
        return self.monitors[-1]

    def attach(self, *extra: str) -> Monitor:
        return self.start("attach", self.session, "--no-tui", "--json", "--interval", "1", *extra)

    def attach_until_done(self, limit: float) -> Monitor:
        """`attach --exit-when-done`, waited for: it must end, and end well."""
        monitor = self.attach("--exit-when-done")
        code = monitor.finish(limit)
        assert code == 0, f"attach exited {code}\n{monitor.output()}"
        return monitor

    def wait_jobs(self, done: Callable[[Rows], bool], limit: float, what: str) -> Rows:
        """`list --json` until `done(rows)`; fails with every job's state."""
        rows: Rows = {}

        def check() -> Rows | None:
            nonlocal rows
            rows = self.jobs()
            return rows if done(rows) else None

        try:
            return wait_for(check, limit, what)
        except NotInTime:
            states = {n: (r["state"], r["job_id"], r["reason"]) for n, r in rows.items()}
            raise AssertionError(f"{what}: not within {limit:g} s; jobs now {states}") from None

    def cleanup(self) -> None:
        for monitor in self.monitors:
            monitor.stop()
        for name in self.names:
            subprocess.run(["scancel", f"--name={name}"], capture_output=True, timeout=30, check=False)


def _deck(tmp_path: Path, transports: dict[str, Transport]) -> Iterator[Deck]:
    deck = Deck(tmp_path, transports)
    try:
        yield deck
    finally:
        deck.cleanup()


@pytest.fixture
def deck(tmp_path: Path, transport: Transport) -> Iterator[Deck]:
    """A deck whose one cluster, "c", is reached through `transport`."""
    yield from _deck(tmp_path, {"c": transport})


@pytest.fixture
def local_deck(tmp_path: Path, local: Transport) -> Iterator[Deck]:
    yield from _deck(tmp_path, {"c": local})


@pytest.fixture
def both_deck(
    request: pytest.FixtureRequest, tmp_path: Path, local: Transport, slurm_conf: str
) -> Iterator[Deck]:
    """A deck with cluster "local" and, when sshd answers, the same cluster as "ssh": one wait for both."""
    transports = {"local": local}
    with contextlib.suppress(pytest.skip.Exception):
        transports["ssh"] = _transport("ssh", slurm_conf, request.getfixturevalue("ssh_config"))
    yield from _deck(tmp_path, transports)
