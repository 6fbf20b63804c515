"""Fixtures for the output-validation tests: the real `jobdeck` command on a database of its own,
against the real SLURM cluster reached on this machine ("local") or through the loopback sshd ("ssh").

Manifests are written as JSON (a manifest format jobdeck reads), so file names of any text travel
exactly. Every wait is a loop with a deadline; every job a test submits is cancelled when it ends.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backends.local.backend import LocalBackend
from backends.runners.files import RemoteFiles
from backends.runners.local import LocalRunner
from backends.runners.ssh import SshRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from cli_deck import CliDeck, Rows, described

JOBS = Path(__file__).resolve().parent / "jobs"
SSH_HOST = os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")


@dataclass(frozen=True)
class Transport:
    """How jobdeck reaches the cluster: its environment and the manifest's cluster table."""

    name: str
    env: dict[str, str]
    host: str | None = None

    def cluster(self, workdir: Path) -> dict[str, Any]:
        return {"backend": "slurm", "workdir": str(workdir), **({"host": self.host} if self.host else {})}


@pytest.fixture(
    params=[
        pytest.param("local", marks=pytest.mark.cluster),
        pytest.param("ssh", marks=[pytest.mark.cluster, pytest.mark.ssh]),
    ]
)
def transport(request: pytest.FixtureRequest, slurm_conf: str) -> Transport:
    """The test cluster, once on this machine and once through SSH."""
    if request.param == "local":
        return Transport("local", {"SLURM_CONF": slurm_conf})
    ssh_config = request.getfixturevalue("ssh_config")
    return Transport("ssh", {"SLURM_CONF": slurm_conf, "JOBDECK_SSH_CONFIG": str(ssh_config)}, SSH_HOST)


@dataclass
class Deck(CliDeck):
    """jobdeck reaching the cluster through `transport`, with the test job scripts
    (tests/validation/jobs) in its work folder; manifests are JSON."""

    JOBS = JOBS
    TIMEOUT = 90.0
    described = staticmethod(described)

    transport: Transport = field(kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.env.update(self.transport.env)

    def manifest(self, session: Mapping[str, Any], jobs: Sequence[Mapping[str, Any]]) -> Path:
        """A JSON manifest with one cluster "c" reached through the transport."""
        document = {"session": session, "clusters": {"c": self.transport.cluster(self.workdir)}, "jobs": jobs}
        path = self.workdir / f"{session['name']}.json"
        path.write_text(json.dumps(document, indent=1, ensure_ascii=False))
        return path

    def submit(self, session: Mapping[str, Any], jobs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Submit a manifest; the outcomes by job name."""
        outcomes = self.json("submit", str(self.manifest(session, jobs)), "--no-tui")
        assert all(o["error"] is None for o in outcomes), outcomes
        return {o["name"]: o for o in outcomes}

    def sync_until(
        self,
        session: str,
        done: Callable[[Rows], bool] | None = None,
        limit: float = 90,
        what: str = "",
        flags: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> Rows:
        """`sync [flags]` then `list` until `done(rows)` (default: every job settled); the rows then."""
        return self.sync_reports(session, done, limit, what, flags, env)[0]


@pytest.fixture
def deck(tmp_path: Path, transport: Transport) -> Iterator[Deck]:
    """jobdeck on a fresh database, reaching the cluster through `transport`."""
    runner = Deck(tmp_path, transport=transport)
    yield runner
    runner.cancel_leftovers()


@pytest.fixture(
    params=[
        "remote-files-local",
        pytest.param("remote-files-ssh", marks=pytest.mark.ssh),
        "local-backend",
    ]
)
async def checker(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """Each way jobdeck looks at outputs: RemoteFiles (the SLURM backend's) through a local runner
    and through SSH, and the local backend's own stat_paths."""
    if request.param == "local-backend":
        yield LocalBackend("here", tmp_path / "local-state")
        return
    if request.param == "remote-files-local":
        runner: LocalRunner | SshRunner = LocalRunner()
    else:
        runner = SshRunner(SSH_HOST, config_paths=[request.getfixturevalue("ssh_config")])
    yield RemoteFiles(runner)
    await runner.close()
