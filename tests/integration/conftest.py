"""End-to-end fixtures: the real `jobdeck` console script run as a subprocess, against the real test
cluster either directly ("local": SLURM commands on this machine) or through the loopback sshd ("ssh").

A test that takes the `transport` fixture runs once per transport (see pytest_generate_tests).
Every wait is a loop with a deadline; every job a test submits is cancelled when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from cli_deck import CliDeck, Rows
from cli_deck import described as shown
from monitor_process import jobdeck_command, toml  # noqa: F401 (fault_harness imports it from here)

JOBS = Path(__file__).resolve().parent / "jobs"
SSH_HOST = os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")


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


class Deck(CliDeck):
    """The real `jobdeck` on a database of its own in `folder`, with a work folder holding the test
    job scripts (tests/integration/jobs) and the manifests."""

    JOBS = JOBS

    def manifest(
        self,
        session: Mapping[str, Any],
        clusters: Mapping[str, Mapping[str, Any]],
        jobs: Sequence[Mapping[str, Any]],
        file: str | None = None,
    ) -> Path:
        """A TOML manifest in the work folder (named after the session by default), from plain tables."""
        lines = ["[session]", *(f"{k} = {toml(v)}" for k, v in session.items())]
        for name, section in clusters.items():
            lines += ["", f"[clusters.{name}]", *(f"{k} = {toml(v)}" for k, v in section.items())]
        for job in jobs:
            lines += ["", "[[jobs]]", *(f"{k} = {toml(v)}" for k, v in job.items())]
        path = self.workdir / (file or f"{session['name']}.toml")
        path.write_text("\n".join(lines) + "\n")
        return path

    def jobs(self, session: str) -> Rows:
        return self.rows(session)

    def sync_until(
        self, session: str, done: Callable[[Rows], bool] | None, limit: float, what: str
    ) -> tuple[Rows, list[dict[str, Any]]]:
        """`sync` then `list` until `done(jobs)` (default: every job settled); the jobs then, and
        every sync report on the way."""
        return self.sync_reports(session, done, limit, what)


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
) -> Iterator[Rows]:
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
