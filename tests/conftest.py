"""Shared fixtures: the real SLURM cluster and sshd started by tests/infra/cluster.sh.

Real-cluster tests are never silently skipped in CI: with CI=true a missing cluster fails them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CLUSTER_STATE = Path(os.environ.get("JOBDECK_TEST_CLUSTER", "/tmp/jobdeck-cluster"))


def require(ok: bool, why: str) -> None:
    """Skip locally, fail in CI."""
    if ok:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{why} (CI=true: real-cluster tests must run; start it with tests/run.sh)")
    pytest.skip(why)


@pytest.fixture(scope="session")
def slurm_conf() -> str:
    """SLURM_CONF of the private test cluster, after checking slurmctld answers."""
    conf = os.environ.get("SLURM_CONF") or str(CLUSTER_STATE / "etc" / "slurm.conf")
    require(Path(conf).exists() and shutil.which("scontrol") is not None, f"no test SLURM cluster ({conf})")
    env = {**os.environ, "SLURM_CONF": conf}
    ping = subprocess.run(["scontrol", "ping"], env=env, capture_output=True, text=True, timeout=20)
    require(
        ping.returncode == 0 and "UP" in ping.stdout, f"slurmctld does not answer: {ping.stdout}{ping.stderr}"
    )
    os.environ["SLURM_CONF"] = conf
    return conf


@pytest.fixture(scope="session")
def ssh_config(slurm_conf: str) -> Path:
    """The ssh_config with Host jobdeck-test pointing at the loopback sshd."""
    path = Path(os.environ.get("JOBDECK_TEST_SSH_CONFIG") or CLUSTER_STATE / "ssh" / "config")
    require(path.exists(), f"no test sshd ({path})")
    probe = subprocess.run(
        ["ssh", "-F", str(path), "-o", "BatchMode=yes", "jobdeck-test", "true"],
        capture_output=True,
        timeout=20,
    )
    require(probe.returncode == 0, f"test sshd does not answer: {probe.stderr.decode(errors='replace')}")
    return path
