"""Fixtures for the job-chain scenarios (issue 7): the real `jobdeck` console script run as a
subprocess on a database of its own, against the real SLURM cluster (`slurm_deck`) or the local
backend (`local_deck`), with monitors (`attach --no-tui`) that a test can SIGKILL.

Every wait is a loop with a deadline. Every name a SLURM test uses carries a random suffix, so
`sacct --name` counts exactly that test's submissions; whatever is still queued is cancelled at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

JOBS = Path(__file__).resolve().parent / "jobs"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from monitor_process import Monitor, NotInTime, alive, children, jobdeck_command, shown, toml, wait_for  # noqa: E402, F401

Rows = dict[str, dict[str, Any]]  # `list --json` rows of plain jobs by name


@dataclass
class Deck:
    """`jobdeck --db <folder>/state/jobdeck.db`, the job scripts and manifests in <folder>/work, one
    session (cluster "c" on `backend`) whose name, like every job name it hands out, ends in a
    random suffix."""

    folder: Path
    backend: str  # "slurm" or "local"
    env: dict[str, str]
    host: str | None = None  # the cluster is reached over SSH (env names the ssh_config)
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    names: list[str] = field(default_factory=list)
    monitors: list[Monitor] = field(default_factory=list)
    releases: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        shutil.copytree(JOBS, self.workdir)

    wait_for = staticmethod(wait_for)

    @property
    def workdir(self) -> Path:
        return self.folder / "work"

    @property
    def db(self) -> Path:
        return self.folder / "state" / "jobdeck.db"

    @property
    def session(self) -> str:
        return f"chains-{self.suffix}"

    def name(self, role: str) -> str:
        self.names.append(f"{role}-{self.suffix}")
        return self.names[-1]

    def manifest(self, jobs: Sequence[Mapping[str, Any]], file: str = "chain.toml", **session: Any) -> Path:
        """A TOML manifest of this session; jobs run chainjob.sh with logs/%x-%j.out unless they say otherwise."""
        lines = [
            "[session]",
            f"name = {toml(self.session)}",
            *(f"{k} = {toml(v)}" for k, v in session.items()),
        ]
        lines += [
            "",
            "[clusters.c]",
            f"backend = {toml(self.backend)}",
            f"workdir = {toml(str(self.workdir))}",
            *([f"host = {toml(self.host)}"] if self.host else []),
        ]
        for job in jobs:
            job = {"script": "chainjob.sh", "log": "logs/%x-%j.out", **job}
            lines += ["", "[[jobs]]", *(f"{k} = {toml(v)}" for k, v in job.items())]
        path = self.workdir / file
        path.write_text("\n".join(lines) + "\n")
        return path

    @staticmethod
    def loop(name: str, periods: int, sleep: float) -> dict[str, Any]:
        """A series of `periods` stages, each printing "period P of N" from its explicit arguments,
        sleeping, and writing out/P.txt."""
        return {
            "name": name,
            "repeat": {"var": "period", "range": f"0-{periods - 1}"},
            "args": [
                "--period",
                "{period}",
                "{period_count}",
                "--sleep",
                str(sleep),
                "--write",
                "out/{period}.txt",
            ],
            "outputs": ["out/{period}.txt"],
        }

    def command(self, *args: str) -> list[str]:
        return [jobdeck_command(), "--db", str(self.db), *args]

    @property
    def full_env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")} | self.env

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args), capture_output=True, text=True, env=self.full_env, cwd=self.folder,
            timeout=timeout,
        )  # fmt: skip

    def run_all(
        self, *commands: Sequence[str], timeout: float = 60
    ) -> list[subprocess.CompletedProcess[str]]:
        """Several jobdeck commands at once (each a list of arguments after `jobdeck`), waited for."""
        started = [
            subprocess.Popen(
                [jobdeck_command(), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=self.full_env,
                cwd=self.folder,
            )
            for args in commands
        ]
        results = []
        for process in started:
            out, err = process.communicate(timeout=timeout)
            results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
        return results

    def json(self, *args: str, timeout: float = 60) -> Any:
        result = self.run(*args, "--json", timeout=timeout)
        assert result.returncode == 0, shown(result)
        return json.loads(result.stdout)

    def submit(self, manifest: Path) -> dict[str, dict[str, Any]]:
        outcomes = {o["name"]: o for o in self.json("submit", str(manifest), "--no-tui")}
        assert all(o["error"] is None and o["job_id"] for o in outcomes.values()), outcomes
        return outcomes

    def rows(self) -> list[dict[str, Any]]:
        return self.json("list", "--session", self.session)

    def jobs(self, rows: Sequence[dict[str, Any]] | None = None) -> Rows:
        """The plain jobs (not array tasks) of `rows` (default: the session's now) by name."""
        return {r["name"]: r for r in (self.rows() if rows is None else rows) if r["task"] is None}

    def status(self, job: str) -> dict[str, Any]:
        return self.json("status", f"{self.session}/{job}")

    def start(self, *args: str) -> Monitor:
        out = self.folder / f"monitor-{len(self.monitors)}.out"
        err = out.with_suffix(".err")
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                self.command(*args), stdout=stdout, stderr=stderr, env=self.full_env, cwd=self.folder,
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

    @staticmethod
    def log(row: Mapping[str, Any]) -> str:
        """The log of a `list --json` row's current attempt, as the job wrote it."""
        assert row["log_path"], f"{row['name']} has no log path"
        return Path(row["log_path"]).read_text()

    def periods_logged(self, row: Mapping[str, Any]) -> list[tuple[int, int]]:
        """Every "period P of N" line the row's job printed."""
        return [
            (int(p), int(n)) for p, n in re.findall(r"^period (\d+) of (\d+)$", self.log(row), re.MULTILINE)
        ]

    def local_runs(self) -> dict[str, list[str]]:
        """Every process the local backend started, by job name (its records, one per task run)."""
        found: dict[str, list[str]] = defaultdict(list)
        for path in sorted((self.db.parent / "local-jobs" / "records").glob("*.json")):
            record = json.loads(path.read_text())
            found[record["name"]].append(record["job_id"])
        return dict(found)

    def hold_sbatch(self, name: str) -> Path:
        """Put an `sbatch` first on jobdeck's PATH that runs the real one, except that the submission
        of job `name` waits until the returned file exists (at most a minute): a controller slow to
        answer one sbatch, without stopping the shared one."""
        real = shutil.which("sbatch")
        assert real, "no sbatch on PATH"
        release = self.folder / f"release-{name}"
        wrapper = self.folder / "bin" / "sbatch"
        wrapper.parent.mkdir(exist_ok=True)
        wrapper.write_text(
            "#!/bin/sh\n"
            f'case " $* " in *" --job-name={name} "*)\n'
            f'    n=0; while [ ! -e "{release}" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done ;;\n'
            "esac\n"
            f'exec "{real}" "$@"\n'
        )
        wrapper.chmod(0o755)
        self.env["PATH"] = f"{wrapper.parent}:{os.environ['PATH']}"
        self.releases.append(release)
        return release

    def cleanup(self) -> None:
        for monitor in self.monitors:
            monitor.stop()
        for release in self.releases:
            release.touch()
        if self.backend == "slurm" and self.names:
            queued = subprocess.run(
                ["squeue", "-h", "-o", "%A", f"--name={','.join(_all_names(self.names))}"],
                capture_output=True, text=True, timeout=30, env=self.full_env, check=False,
            ).stdout.split()  # fmt: skip
            if queued:
                subprocess.run(
                    ["scancel", *queued], capture_output=True, timeout=30, env=self.full_env, check=False
                )


def _all_names(roles: Sequence[str], stages: int = 20) -> list[str]:
    """Every SLURM name a deck may have used: its names and the stages a series of them made."""
    return [*roles, *(f"{role}-{index}" for role in roles for index in range(stages))]


class Slurm:
    """What SLURM's queue and accounting say about names, on this machine."""

    def __init__(self, conf: str) -> None:
        self.env = {**os.environ, "SLURM_CONF": conf}

    def _run(self, *argv: str) -> str:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=self.env)
        assert result.returncode == 0, shown(result)
        return result.stdout

    def runs(self, names: Sequence[str]) -> dict[str, list[str]]:
        """Every run (a requeued one counts again: -D) of each name in the last hour, by name."""
        out = self._run("sacct", "-X", "-D", "-n", "-P", "-S", "now-1hour", "-o", "JobID,JobName",
                        f"--name={','.join(names)}")  # fmt: skip
        found: dict[str, list[str]] = defaultdict(list)
        for line in out.splitlines():
            job_id, name = line.split("|", 1)
            found[name].append(job_id)
        return {name: found.get(name, []) for name in names}

    def accounted(self, names: Sequence[str], limit: float = 30.0) -> dict[str, list[str]]:
        """runs(names) once accounting lists every name (it may lag the queue by a moment)."""
        return wait_for(lambda: found if all((found := self.runs(names)).values()) else None, limit,
                        f"accounting lists every one of {names}")  # fmt: skip

    def plain_sacct(self, name: str) -> str:
        """`sacct --name=NAME -X -n -S now-1hour`, as a person types it."""
        return self._run("sacct", f"--name={name}", "-X", "-n", "-S", "now-1hour")

    def queued(self, name: str) -> str:
        return self._run("squeue", "-h", "-t", "all", f"--name={name}")


@pytest.fixture
def slurm(slurm_conf: str) -> Slurm:
    return Slurm(slurm_conf)


@pytest.fixture
def slurm_deck(tmp_path: Path, slurm_conf: str) -> Iterator[Deck]:
    deck = Deck(tmp_path, "slurm", {"SLURM_CONF": slurm_conf})
    try:
        yield deck
    finally:
        deck.cleanup()


@pytest.fixture(params=["local", pytest.param("ssh", marks=pytest.mark.ssh)])
def slurm_deck_any(request: pytest.FixtureRequest, tmp_path: Path, slurm_conf: str) -> Iterator[Deck]:
    """A SLURM deck whose cluster is this machine's, or the same cluster through the loopback sshd."""
    env, host = {"SLURM_CONF": slurm_conf}, None
    if request.param == "ssh":
        env["JOBDECK_SSH_CONFIG"] = str(request.getfixturevalue("ssh_config"))
        host = os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")
    deck = Deck(tmp_path, "slurm", env, host)
    try:
        yield deck
    finally:
        deck.cleanup()


@pytest.fixture
def local_deck(tmp_path: Path) -> Iterator[Deck]:
    deck = Deck(tmp_path, "local", {})
    try:
        yield deck
    finally:
        deck.cleanup()
