"""Shared fixtures: the real SLURM cluster and sshd started by tests/infra/cluster.sh, and the real
Kubernetes control plane started by tests/infra/k8s.sh.

Real-cluster tests are never silently skipped in CI: with CI=true a missing cluster fails them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient, Configuration, VersionApi
from kubernetes.config.kube_config import load_kube_config

CLUSTER_STATE = Path(os.environ.get("JOBDECK_TEST_CLUSTER", "/tmp/jobdeck-cluster"))
K8S_STATE = Path(os.environ.get("JOBDECK_TEST_K8S", "/tmp/jobdeck-k8s"))
FIGURES = ("cycles", "kills", "faults", "bad_inputs", "lost", "duplicates")


def pytest_configure(config: pytest.Config) -> None:
    """The file where fault and hostile-input tests record their figures (tests/faults/fault_harness.py
    record); set once by the main process, inherited by pytest-xdist's workers."""
    if not hasattr(config, "workerinput"):
        folder = tempfile.mkdtemp(prefix="jobdeck-figures-")
        os.environ["JOBDECK_TEST_FIGURES"] = str(Path(folder) / "figures.jsonl")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per test that recorded figures (a property test's examples added up), then totals."""
    path = Path(os.environ.get("JOBDECK_TEST_FIGURES", "/nonexistent"))
    if hasattr(terminalreporter.config, "workerinput") or not path.exists():
        return
    merged: dict[str, tuple[dict[str, int], str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        counts, note = merged.get(entry["test"], ({}, ""))
        for key, value in entry["counts"].items():
            counts[key] = counts.get(key, 0) + value
        merged[entry["test"]] = (counts, entry["note"] or note)
    totals = dict.fromkeys(FIGURES, 0)
    terminalreporter.section("fault injection and hostile input: figures")
    for test, (counts, note) in merged.items():
        for key, value in counts.items():
            totals[key] += value
        shown = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in counts.items())
        terminalreporter.write_line(f"{test}: {shown}" + (f"  ({note})" if note else ""))
    terminalreporter.write_line(
        f"TOTAL: cycles run {totals['cycles']}, kills {totals['kills']}, faults {totals['faults']}, "
        f"bad inputs tried {totals['bad_inputs']}, jobs lost {totals['lost']}, "
        f"duplicate submissions {totals['duplicates']}"
    )
    path.unlink()


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


@pytest.fixture(scope="session")
def k8s_state() -> Path:
    """The state folder of the test Kubernetes control plane, after checking its API server answers
    the Role-bound user of the kubeconfig there."""
    kubeconfig = K8S_STATE / "kubeconfig"
    require(kubeconfig.exists(), f"no test Kubernetes control plane ({K8S_STATE}; tests/infra/k8s.sh start)")
    configuration = Configuration()
    load_kube_config(config_file=str(kubeconfig), client_configuration=configuration, persist_config=False)
    api = ApiClient(configuration)
    try:
        VersionApi(api).get_code(_request_timeout=(3, 10))
    except Exception as exc:  # any failure to answer: reported as the reason
        require(False, f"the test Kubernetes API server does not answer: {exc}")
    finally:
        api.close()
    return K8S_STATE
