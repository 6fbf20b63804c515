"""The user's queue on the real control plane: Jobs a user made with the API (not jobdeck) are
listed with their facts (a running one with its node and CPUs, a finished one with its exit code,
an Indexed Job as an array, a failed one FAILED), a cluster's label selector picks its Jobs, a Job
jobdeck made carries its tag, the kubeconfig's current context opens a working cluster without a
config file, a cluster that does not answer is BackendUnavailable, and `jobdeck queue --json` lists
a config file's Kubernetes cluster."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from async_wait import read_until
from control_plane import Admin, ControlPlane, RealEngine
from foreign_jobs import foreign_job
from k8s_support import k8s_spec
from monitor_process import jobdeck_command, wait_for

from backends.kubernetes.backend import KubernetesBackend
from backends.kubernetes.connection import Settings
from backends.kubernetes.naming import TAG
from monitor.errors import BackendUnavailable
from monitor.model import TAG_PREFIX
from monitor.protocols import Backend
from monitor.queue import QueueEntry
from monitor.states import State
from tui.config import UserConfig
from tui.queue_clusters import queue_clusters

pytestmark = pytest.mark.k8s

Listing = dict[str, QueueEntry]


@pytest.fixture
def label(admin: Admin) -> Iterator[str]:
    """A label value of this test's own; the Jobs carrying it are deleted when the test ends."""
    value = f"q-{uuid.uuid4().hex[:8]}"
    yield value
    for job in admin.batch.list_namespaced_job(
        admin.namespace, label_selector=f"jobdeck.test/queue={value}", _request_timeout=(5, 30)
    ).items:
        admin.delete_job(job.metadata.name)


def config_cluster(plane: ControlPlane, tmp_path: Path, **table: str) -> Backend:
    """The cluster `lab` of a config file's [clusters.lab] table, opened as the queue opens it."""
    config = UserConfig(
        clusters={"lab": {"backend": "kubernetes", "kubeconfig": str(plane.kubeconfig), **table}},
        path=tmp_path / "config.toml",
    )
    return queue_clusters(config)["lab"].open_backend(tmp_path, None)


async def list_until(
    backend: Backend, what: str, done: Callable[[Listing], bool], timeout: float = 180.0
) -> Listing:
    """List the queue until `done` holds for its entries by job ID; every listing reads cleanly."""
    lister = backend.queue_lister
    assert lister is not None

    async def listed() -> Listing:
        report = await lister.list_queue(0.0)
        assert report.notices == ()
        return {e.job_id: e for e in report.entries}

    def seen(found: Listing) -> dict[str, Any]:
        return {k: (e.state.value, e.reason, e.exit_code) for k, e in found.items()}

    return await read_until(listed, done, what, timeout, seen)


def ended(*names: str) -> Callable[[Listing], bool]:
    return lambda found: all(name in found and found[name].finished for name in names)


async def test_jobs_made_without_jobdeck_are_listed_with_their_facts(
    plane: ControlPlane, admin: Admin, label: str, tmp_path: Path
) -> None:
    labels = {"jobdeck.test/queue": label}
    admin.create_job(foreign_job(f"{label}-run", "sleep 300", labels=labels, deadline=900,
                                 requests={"cpu": "3", "memory": "64Mi"}))  # fmt: skip
    admin.create_job(foreign_job(f"{label}-ok", "exit 0", labels=labels))
    admin.create_job(foreign_job(f"{label}-bad", "exit 5", labels=labels))
    admin.create_job(
        foreign_job(f"{label}-arr", 'exit "$JOB_COMPLETION_INDEX"', labels=labels, completions=2)
    )
    backend = config_cluster(plane, tmp_path, selector=f"jobdeck.test/queue={label}")
    try:
        found = await list_until(
            backend,
            "the Jobs to end and the sleeper to run",
            lambda f: (
                ended(f"{label}-ok", f"{label}-bad", f"{label}-arr_0", f"{label}-arr_1")(f)
                and getattr(f.get(f"{label}-run"), "state", None) is State.RUNNING
            ),
        )
    finally:
        await backend.close()
    assert sorted(found) == sorted(f"{label}-{k}" for k in ("run", "ok", "bad", "arr_0", "arr_1"))
    running = found[f"{label}-run"]
    assert (running.nodes, running.cpus, running.req_mem, running.time_limit) == (
        "jobdeck-node",
        3,
        2**26,
        900,
    )
    assert running.start_time is not None and running.scheduler_state == "Running"
    ok, bad = found[f"{label}-ok"], found[f"{label}-bad"]
    assert (ok.state, ok.exit_code, ok.scheduler_state) == (State.SUCCEEDED, 0, "Complete")
    assert (bad.state, bad.exit_code, bad.scheduler_state) == (State.FAILED, 5, "Failed")
    assert ok.end_time is not None and ok.elapsed is not None
    tasks = {(e.array_id, e.task, e.state, e.exit_code) for k, e in found.items() if "-arr" in k}
    assert tasks == {(f"{label}-arr", 0, State.SUCCEEDED, 0), (f"{label}-arr", 1, State.FAILED, 1)}


async def test_a_selector_picks_its_jobs_and_the_history_leaves_old_ones_out(
    plane: ControlPlane, admin: Admin, label: str, tmp_path: Path
) -> None:
    admin.create_job(
        foreign_job(f"{label}-mine", "exit 0", labels={"jobdeck.test/queue": label, "team": "a"})
    )
    admin.create_job(
        foreign_job(f"{label}-theirs", "exit 0", labels={"jobdeck.test/queue": label, "team": "b"})
    )
    ours = config_cluster(plane, tmp_path, selector=f"jobdeck.test/queue={label},team=a")
    everything = config_cluster(plane, tmp_path)
    try:
        await list_until(everything, "both Jobs to end", ended(f"{label}-mine", f"{label}-theirs"))
        assert ours.queue_lister is not None
        report = await ours.queue_lister.list_queue(0.0)
        assert [e.job_id for e in report.entries] == [f"{label}-mine"]
        assert report.commands == ("list jobs", "list pods")
        later = (await ours.queue_lister.list_queue(time.time() + 1)).entries
        assert later == ()
    finally:
        await ours.close()
        await everything.close()


async def test_a_job_jobdeck_made_carries_its_tag(real_engine: RealEngine, plane: ControlPlane) -> None:
    await real_engine.add(
        [("tagged", None, k8s_spec(real_engine.folder, "x", command=["sh", "-c", "exit 0"]))]
    )
    ids = await real_engine.submit_all()
    tag = real_engine.admin.job(ids["tagged"])["metadata"]["annotations"][TAG]
    lister = KubernetesBackend(
        "k8s", settings=Settings(str(plane.kubeconfig)), timeout=10.0, connect_timeout=3.0
    )
    try:
        found = await list_until(lister, "the jobdeck Job to end", ended(ids["tagged"]))
    finally:
        await lister.close()
    entry = found[ids["tagged"]]
    assert tag.startswith(TAG_PREFIX)
    assert (entry.tag, entry.name, entry.state) == (tag, "tagged", State.SUCCEEDED)


async def test_the_current_context_is_a_cluster_without_a_config(
    plane: ControlPlane, admin: Admin, label: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(plane.kubeconfig))
    context = yaml.safe_load(plane.kubeconfig.read_text())["current-context"]
    admin.create_job(foreign_job(f"{label}-seen", "exit 0", labels={"jobdeck.test/queue": label}))
    cluster = queue_clusters(UserConfig(path=tmp_path / "config.toml"))[context]
    backend = cluster.open_backend(tmp_path, None)
    try:
        await list_until(backend, "the Job in the context's namespace", ended(f"{label}-seen"))
    finally:
        await backend.close()


async def test_a_cluster_that_does_not_answer_is_unavailable(plane: ControlPlane, tmp_path: Path) -> None:
    document = yaml.safe_load(plane.kubeconfig.read_text())
    document["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"  # nothing listens there
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(document))
    lister = KubernetesBackend("gone", settings=Settings(str(kubeconfig)), timeout=5.0, connect_timeout=2.0)
    try:
        with pytest.raises(BackendUnavailable, match="kubernetes cluster gone"):
            await lister.list_queue(0.0)
    finally:
        await lister.close()


def test_jobdeck_queue_json_lists_a_kubernetes_cluster_of_the_config_file(
    plane: ControlPlane, admin: Admin, label: str, tmp_path: Path
) -> None:
    """The real `jobdeck queue --json` with a config file's [clusters.lab]: a running Job made without
    jobdeck with its node, CPUs and deadline; a failed one with its exit code; no session."""
    labels = {"jobdeck.test/queue": label}
    admin.create_job(
        foreign_job(f"{label}-run", "sleep 300", labels=labels, deadline=600, requests={"cpu": "2"})
    )
    admin.create_job(foreign_job(f"{label}-bad", "exit 7", labels=labels))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[clusters.lab]\nbackend = "kubernetes"\nkubeconfig = "{plane.kubeconfig}"\n'
        f'selector = "jobdeck.test/queue={label}"\n'
    )
    env = {**os.environ, "JOBDECK_CONFIG": str(config), "NO_COLOR": "1"}
    command = [jobdeck_command(), "--db", str(tmp_path / "jobdeck.db"), "queue", "--json"]

    def rows() -> dict[str, dict[str, Any]] | None:
        result = subprocess.run(command, capture_output=True, text=True, timeout=90, env=env)
        assert result.returncode == 0, f"{result.returncode}\n{result.stdout}\n{result.stderr}"
        found = {row["job_id"]: row for row in json.loads(result.stdout)}
        run, bad = found.get(f"{label}-run"), found.get(f"{label}-bad")
        return found if run and bad and run["state"] == "RUNNING" and bad["state"] == "FAILED" else None

    found = wait_for(rows, 180, "a RUNNING and a FAILED row")
    run, bad = found[f"{label}-run"], found[f"{label}-bad"]
    assert (run["cluster"], run["nodes"], run["cpus"], run["time_limit"]) == ("lab", "jobdeck-node", 2, 600)
    assert run["session"] is None and run["started"] and 0 <= run["time_left"] <= 600
    assert (bad["exit_code"], bad["scheduler_state"], bad["reason"]) == (7, "Failed", "BackoffLimitExceeded")
