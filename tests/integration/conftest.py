"""End-to-end fixtures: the real `jobdeck` console script run as a subprocess, against the real test
cluster either directly ("local": SLURM commands on this machine) or through the loopback sshd ("ssh").

A test that takes the `transport` fixture runs once per transport (see pytest_generate_tests).
Every wait is a loop with a deadline; every job a test submits is cancelled when the test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from monitor.states import TERMINAL

JOBS = Path(__file__).resolve().parent / "jobs"
SETTLED = frozenset(state.value for state in TERMINAL)
SSH_HOST = os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")

JobsByKey = dict[tuple[str, int | None], dict[str, Any]]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that takes `transport` on this machine and through SSH, marked accordingly."""
    if "transport" in metafunc.fixturenames:
        metafunc.parametrize(
            "transport",
            [
                pytest.param("local", marks=pytest.mark.cluster, id="local"),
                pytest.param("ssh", marks=[pytest.mark.cluster, pytest.mark.ssh], id="ssh"),
            ],
            indirect=True,
        )


def jobdeck_command() -> str:
    """The installed console script of this virtualenv (not `python -m`: the real entry point)."""
    beside = Path(sys.executable).parent / "jobdeck"
    found = str(beside) if beside.exists() else shutil.which("jobdeck")
    assert found, f"no `jobdeck` console script next to {sys.executable} or on PATH: pip install -e ."
    return found


def shown(result: subprocess.CompletedProcess[str]) -> str:
    """A finished command, for assertion messages."""
    command = shlex.join(str(word) for word in result.args)
    return f"{command} exited {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


@dataclass(frozen=True)
class Transport:
    """How the cluster is reached: the environment jobdeck runs with and the [clusters] table."""

    name: str
    env: dict[str, str]
    host: str | None = None  # the SSH host, for "ssh"

    def cluster(self, workdir: Path, **extra: Any) -> dict[str, Any]:
        section: dict[str, Any] = {"backend": "slurm", "workdir": str(workdir)}
        if self.host is not None:
            section["host"] = self.host
        return {**section, **extra}


def _transport(name: str, slurm_conf: str, ssh_config: Path | None = None) -> Transport:
    if ssh_config is None:
        return Transport(name, {"SLURM_CONF": slurm_conf})
    return Transport(name, {"SLURM_CONF": slurm_conf, "JOBDECK_SSH_CONFIG": str(ssh_config)}, SSH_HOST)


@dataclass
class Deck:
    """The real `jobdeck` on a database of its own in `folder`, with a work folder holding the test
    job scripts and the manifests. Remembers every scheduler ID it submitted so `cancel_leftovers`
    can scancel them."""

    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    submitted: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        shutil.copytree(JOBS, self.workdir)

    @property
    def workdir(self) -> Path:
        return self.folder / "work"

    @property
    def db(self) -> Path:
        return self.folder / "state" / "jobdeck.db"

    def manifest(
        self,
        session: Mapping[str, Any],
        clusters: Mapping[str, Mapping[str, Any]],
        jobs: Sequence[Mapping[str, Any]],
        file: str | None = None,
    ) -> Path:
        """A TOML manifest in the work folder (named after the session by default), from plain tables."""
        lines = ["[session]", *(f"{k} = {_toml(v)}" for k, v in session.items())]
        for name, section in clusters.items():
            lines += ["", f"[clusters.{name}]", *(f"{k} = {_toml(v)}" for k, v in section.items())]
        for job in jobs:
            lines += ["", "[[jobs]]", *(f"{k} = {_toml(v)}" for k, v in job.items())]
        path = self.workdir / (file or f"{session['name']}.toml")
        path.write_text("\n".join(lines) + "\n")
        return path

    def command(self) -> list[str]:
        return [jobdeck_command(), "--db", str(self.db)]

    def environ(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
        return {**base, **self.env, **(env or {})}

    def run(
        self, *args: str, timeout: float = 60, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.command(), *args],
            capture_output=True,
            text=True,
            env=self.environ(env),
            cwd=self.folder,
            timeout=timeout,
        )
        if args[:1] == ("submit",) and "--json" in args and result.stdout.strip():
            self.submitted += [o["job_id"] for o in json.loads(result.stdout) if o["job_id"]]
        return result

    def json(self, *args: str, timeout: float = 60, env: Mapping[str, str] | None = None) -> Any:
        """Run with --json; it must succeed."""
        result = self.run(*args, "--json", timeout=timeout, env=env)
        assert result.returncode == 0, shown(result)
        return json.loads(result.stdout)

    def jobs(self, session: str) -> JobsByKey:
        return {(j["name"], j["task"]): j for j in self.json("list", "--session", session)}

    def sync_until(
        self, session: str, done: Callable[[JobsByKey], bool] | None, limit: float, what: str
    ) -> tuple[JobsByKey, list[dict[str, Any]]]:
        """`sync` then `list` until `done(jobs)` (default: every job settled); the jobs then, and
        every sync report on the way."""
        done = done or (lambda jobs: all(j["state"] in SETTLED for j in jobs.values()))
        reports: list[dict[str, Any]] = []
        deadline = time.monotonic() + limit
        while True:
            (report,) = self.json("sync", "--session", session)
            reports.append(report)
            jobs = self.jobs(session)
            if done(jobs):
                return jobs, reports
            if time.monotonic() > deadline:
                states = {f"{n}[{t}]" if t is not None else n: j["state"] for (n, t), j in jobs.items()}
                raise AssertionError(f"{what}: not within {limit:g} s; states now {states}")
            time.sleep(0.5)

    def cancel_leftovers(self) -> None:
        """scancel what `submit --json` reported; only SLURM's IDs, so only with SLURM_CONF set."""
        if self.submitted and "SLURM_CONF" in self.env:
            env = {**os.environ, **{k: v for k, v in self.env.items() if k == "SLURM_CONF"}}
            subprocess.run(
                ["scancel", *self.submitted], env=env, capture_output=True, timeout=30, check=False
            )


@pytest.fixture
def transport(request: pytest.FixtureRequest, slurm_conf: str) -> Transport:
    """The test cluster as reached by `request.param` ("local" or "ssh")."""
    ssh_config = request.getfixturevalue("ssh_config") if request.param == "ssh" else None
    return _transport(request.param, slurm_conf, ssh_config)


@pytest.fixture
def ssh_transport(slurm_conf: str, ssh_config: Path) -> Transport:
    """The test cluster through the loopback sshd, for tests that are about SSH itself."""
    return _transport("ssh", slurm_conf, ssh_config)


@pytest.fixture
def deck(tmp_path: Path) -> Iterator[Deck]:
    """jobdeck on a fresh database (its folder does not exist yet), no cluster settings."""
    runner = Deck(tmp_path)
    yield runner
    runner.cancel_leftovers()


@pytest.fixture
def cluster_deck(deck: Deck, transport: Transport) -> Deck:
    """jobdeck with the environment that reaches the cluster through `transport`."""
    deck.env.update(transport.env)
    return deck


@pytest.fixture
def ssh_deck(deck: Deck, ssh_transport: Transport) -> Deck:
    deck.env.update(ssh_transport.env)
    return deck


@pytest.fixture(scope="module")
def timed_out(
    request: pytest.FixtureRequest, slurm_conf: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JobsByKey]:
    """The jobs named limit-local and limit-ssh (when sshd answers), each sleeping past `--time=1`,
    submitted together in one session and watched by one attach: both transports cost one time
    limit of wall time. The ssh variant of a test skips itself when its job is missing."""
    transports = {"local": _transport("local", slurm_conf)}
    with contextlib.suppress(pytest.skip.Exception):  # no sshd here: only the local variant runs
        transports["ssh"] = _transport("ssh", slurm_conf, request.getfixturevalue("ssh_config"))
    deck = Deck(
        tmp_path_factory.mktemp("timeout"), {k: v for t in transports.values() for k, v in t.env.items()}
    )
    clusters = {name: t.cluster(deck.workdir) for name, t in transports.items()}
    jobs = [
        {"name": f"limit-{name}", "cluster": name, "script": "behave.sh", "args": ["--sleep", "300"]}
        | {"sbatch": ["--time=1"]}
        for name in transports
    ]
    manifest = deck.manifest({"name": "limit", "validate_grace": 2, "poll_interval": 2}, clusters, jobs)
    try:
        deck.json("submit", str(manifest), "--no-tui")
        attach = deck.run("attach", "limit", "--no-tui", "--exit-when-done", "--interval", "2", timeout=200)
        assert attach.returncode == 0, shown(attach)
        yield deck.jobs("limit")
    finally:
        deck.cancel_leftovers()
