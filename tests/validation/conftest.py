"""Fixtures for the output-validation tests: the real `jobdeck` command on a database of its own,
against the real SLURM cluster reached on this machine ("local") or through the loopback sshd ("ssh").

Manifests are written as JSON (a manifest format jobdeck reads), so file names of any text travel
exactly. Every wait is a loop with a deadline; every job a test submits is cancelled when it ends.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backends.local.backend import LocalBackend
from backends.runners.files import RemoteFiles
from backends.runners.local import LocalRunner
from backends.runners.ssh import SshRunner
from monitor.states import TERMINAL

JOBS = Path(__file__).resolve().parent / "jobs"
SETTLED = frozenset(state.value for state in TERMINAL)
SSH_HOST = os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")

Rows = dict[tuple[str, int | None], dict[str, Any]]  # `list --json` rows by (name, task)


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


def jobdeck_executable() -> str:
    """The console script installed in this virtualenv: the real entry point."""
    beside = Path(sys.executable).parent / "jobdeck"
    found = str(beside) if beside.exists() else shutil.which("jobdeck")
    assert found, f"no `jobdeck` console script next to {sys.executable}: pip install -e ."
    return found


@dataclass
class Deck:
    """`jobdeck --db <folder>/state/jobdeck.db`, with the test job scripts copied into <folder>/work.
    Remembers every scheduler ID it submitted (submit and resume) so they can be cancelled."""

    folder: Path
    transport: Transport
    submitted: list[str] = field(default_factory=list)
    workdir: Path = field(init=False)
    db: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir = Path(shutil.copytree(JOBS, self.folder / "work"))
        self.db = self.folder / "state" / "jobdeck.db"

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

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        prefix: Sequence[str] = (),
        timeout: float = 90,
    ) -> subprocess.CompletedProcess[str]:
        """The command as a user types it; `prefix` runs it under another program (e.g. setpriv)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
        result = subprocess.run(
            [*prefix, jobdeck_executable(), "--db", str(self.db), *args],
            capture_output=True,
            text=True,
            env={**base, **self.transport.env, **(env or {})},
            cwd=self.folder,
            timeout=timeout,
        )
        if args[0] in ("submit", "resume") and "--json" in args and result.stdout.startswith(("[", "{")):
            self._remember(json.loads(result.stdout))
        return result

    def json(self, *args: str, env: Mapping[str, str] | None = None, ok: bool = True) -> Any:
        """Run with --json; it must succeed unless `ok` is False."""
        result = self.run(*args, "--json", env=env)
        assert result.returncode == 0 or not ok, self.described(result)
        return json.loads(result.stdout)

    @staticmethod
    def described(result: subprocess.CompletedProcess[str]) -> str:
        """A finished command, for assertion messages."""
        return (
            f"{shlex.join(map(str, result.args))} exited {result.returncode}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )

    def rows(self, session: str) -> Rows:
        return {(j["name"], j["task"]): j for j in self.json("list", "--session", session)}

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
        done = done or (lambda rows: all(j["state"] in SETTLED for j in rows.values()))
        deadline = time.monotonic() + limit
        while True:
            self.json("sync", "--session", session, *flags, env=env)
            rows = self.rows(session)
            if done(rows):
                return rows
            if time.monotonic() > deadline:
                states = {f"{n}[{t}]": j["state"] for (n, t), j in rows.items()}
                raise AssertionError(f"{what or 'jobs settle'}: not within {limit:g} s; states now {states}")
            time.sleep(0.5)

    def _remember(self, data: Any) -> None:
        outcomes = data if isinstance(data, list) else [p["submission"] for p in data.get("plans", [])]
        self.submitted += [o["job_id"] for o in outcomes if o and o.get("job_id")]

    def cancel_leftovers(self) -> None:
        if self.submitted:
            env = {**os.environ, "SLURM_CONF": self.transport.env["SLURM_CONF"]}
            subprocess.run(
                ["scancel", *self.submitted], env=env, capture_output=True, timeout=30, check=False
            )


@pytest.fixture
def deck(tmp_path: Path, transport: Transport) -> Iterator[Deck]:
    """jobdeck on a fresh database, reaching the cluster through `transport`."""
    runner = Deck(tmp_path, transport)
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
