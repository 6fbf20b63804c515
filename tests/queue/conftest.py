"""`jobdeck queue` against the real SLURM cluster, listed from this machine or through the loopback
sshd: jobs are submitted with plain sbatch (no manifest, as most people submit), each test under
names of its own, and cancelled at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from cli_deck import CliDeck, described

T = TypeVar("T")


@dataclass
class QueueDeck(CliDeck):
    """A deck whose config file names the test cluster as `lab` (over SSH for the ssh variant)."""

    JOBS: ClassVar[Path] = Path(__file__).parent / "jobs"
    names: list[str] = field(default_factory=list)

    def name(self, role: str) -> str:
        name = f"q-{role}-{uuid.uuid4().hex[:8]}"
        self.names.append(name)
        return name

    def sbatch(self, *args: str) -> str:
        """A plain sbatch, as a user types it; the job's ID."""
        result = subprocess.run(
            ["sbatch", "--parsable", f"--chdir={self.workdir}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.environ(),
        )
        assert result.returncode == 0, described(result)
        job_id = result.stdout.strip().split(";")[0]
        self.submitted.append(job_id)
        return job_id

    def queue(self, *args: str) -> list[dict[str, Any]]:
        result = self.run("queue", "--json", *args)
        assert result.returncode == 0, described(result)
        rows: list[dict[str, Any]] = json.loads(result.stdout)
        return rows

    def mine(self, *args: str) -> dict[str, dict[str, Any]]:
        """This test's rows of `jobdeck queue --json`, by job name (other tests share the cluster)."""
        return {row["name"]: row for row in self.queue(*args) if row["name"] in self.names}

    def wait(self, found: Callable[[], T | None], limit: float, what: str) -> T:
        deadline = time.monotonic() + limit
        while True:
            value = found()
            if value is not None:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} after {limit:.0f} s")
            time.sleep(1.0)


@pytest.fixture(params=["local", pytest.param("ssh", marks=pytest.mark.ssh)])
def queue_deck(request: pytest.FixtureRequest, tmp_path: Path, slurm_conf: str) -> Iterator[QueueDeck]:
    env = {"SLURM_CONF": slurm_conf, "JOBDECK_CONFIG": str(tmp_path / "config.toml")}
    table = '[clusters.lab]\nbackend = "slurm"\n'
    if request.param == "ssh":
        env["JOBDECK_SSH_CONFIG"] = str(request.getfixturevalue("ssh_config"))
        table += f'host = "{os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")}"\n'
    (tmp_path / "config.toml").write_text(f"# my clusters\n{table}", encoding="utf-8")
    deck = QueueDeck(tmp_path, env)
    try:
        yield deck
    finally:
        deck.cancel_leftovers()
        kept = Path.home() / ".jobdeck" / "adopted" / "lab"  # the loopback sshd logs in as this user
        for job_id in deck.submitted:
            (kept / f"{job_id}.sh").unlink(missing_ok=True)  # adoption's copies of the batch scripts
