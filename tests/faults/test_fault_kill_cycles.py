"""kill -9 of jobdeck at seeded random moments during submit, attach, sync, validate, resume and
restart on the real cluster (here and over SSH): afterwards the store is intact, every scheduler job
is an attempt in it, and nothing was submitted twice (tests/faults/kill_cycles.py says how).

The suite runs 200 cycles (about 2.5 minutes); JOBDECK_KILL_CYCLES and JOBDECK_KILL_SEED change
the count and the seed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fault_harness import record
from kill_cycles import KillCycles

SEED = int(os.environ.get("JOBDECK_KILL_SEED", "20240601"))


def run_cycles(folder: Path, cycles: int, slurm_conf: str, ssh_config: Path, name: str) -> None:
    env = {**os.environ, "SLURM_CONF": slurm_conf, "JOBDECK_SSH_CONFIG": str(ssh_config)}
    host = os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")
    figures = KillCycles(folder, SEED, cycles, host, env).run_all()
    print(figures.summary())
    record(
        name,
        f"seed {SEED}; {figures.intents_left_open} kills between intent and confirmation; "
        f"{figures.scheduler_jobs} scheduler jobs, {figures.attempts} attempts",
        cycles=figures.cycles,
        kills=figures.kills,
        faults=figures.kills,
        lost=len(figures.lost),
        duplicates=len(figures.duplicates),
    )
    assert figures.cycles == cycles
    assert figures.scheduler_jobs > 0, "no job was ever submitted: the cycles tested nothing"
    assert not figures.problems, "\n".join([figures.summary(), *figures.problems, f"(commands in {folder})"])


@pytest.mark.slow
@pytest.mark.cluster
@pytest.mark.ssh
@pytest.mark.timeout(1200)
def test_kill_9_during_two_hundred_cycles(tmp_path: Path, slurm_conf: str, ssh_config: Path) -> None:
    cycles = int(os.environ.get("JOBDECK_KILL_CYCLES", "200"))
    run_cycles(tmp_path, cycles, slurm_conf, ssh_config, f"kill -9 ({cycles} cycles)")
