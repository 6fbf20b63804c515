"""Fixtures for the SLURM command tests: the captured outputs and the real test cluster."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from backends.slurm.commands import TIME_ENV, sacct_argvs, squeue_argv
from backends.slurm.parse import is_invalid_job_id, parse_sacct, parse_squeue
from monitor.model import Observation

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "slurm"


@pytest.fixture(scope="session")
def captured() -> dict[str, str]:
    """Every captured output by file stem (squeue_1, sacct_3, scontrol_unknown.stderr, ...)."""
    return {path.stem: path.read_text() for path in FIXTURES.glob("*.txt")}


@pytest.fixture(scope="session")
def job_ids() -> dict[str, str]:
    """The IDs the capture script got for its jobs, by label (timeout, held, running, array, ...)."""
    lines = (FIXTURES / "jobs.txt").read_text().splitlines()
    return dict(line.split("\t") for line in lines)


class Cluster:
    """Runs SLURM commands on the test cluster, with the environment the backend would use."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def run(self, argv: list[str], stdin: str | None = None) -> str:
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=self.env, timeout=30)
        assert result.returncode == 0, f"{argv[0]} exited {result.returncode}: {result.stderr}"
        return result.stdout

    def wait_finished(self, job_id: str, expected: set[str], limit: float = 90) -> dict[str, Observation]:
        """Wait until the job (all its tasks) left the queue and accounting shows an end for every
        expected ID; return accounting's observations by job ID."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            queue = subprocess.run(
                squeue_argv([job_id]), capture_output=True, text=True, env=self.env, timeout=30
            )
            assert queue.returncode == 0 or is_invalid_job_id(queue.stderr), queue.stderr
            if not parse_squeue(queue.stdout):
                now = time.time()
                (argv,) = sacct_argvs([job_id], since_epoch=now - 600, now=now)
                finished = {o.job_id: o for o in parse_sacct(self.run(argv)) if o.end_time is not None}
                if expected <= finished.keys():
                    return finished
            time.sleep(0.5)
        raise AssertionError(f"job {job_id} did not finish within {limit}s")


@pytest.fixture(scope="session")
def cluster(slurm_conf: str) -> Cluster:
    """The test cluster; tests/conftest.py checks that it answers (skipped without it, failed if CI=true)."""
    return Cluster({**os.environ, "SLURM_CONF": slurm_conf, **TIME_ENV})
