"""Adopted jobs in the store: one transaction that adds the cluster to the session's stored
manifest (so the session is monitored like any other), the jobs and their first attempts under
their own scheduler IDs; a clash is refused with nothing changed. And a backend without the
Adopter capability says so in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.registry import config_clusters
from monitor.errors import InputError
from monitor.model import JobSpec
from store.session_store import SessionStore
from tui.adopt_jobs import adopt

SPEC = JobSpec("lab", "/home/u/.jobdeck/adopted/lab/7.sh", "/w", args=("alpha",), options=("--time=5",))
LAB = {"name": "lab", "backend": "slurm", "host": None, "workdir": None}


async def test_adopting_into_a_session_adds_its_cluster_jobs_and_first_attempts(tmp_path: Path) -> None:
    store = await SessionStore.open(tmp_path / "jobdeck.db")
    try:
        manifest = {"session": {"name": "work"}, "clusters": {"other": {"name": "other", "backend": "local"}}}
        await store.ensure_session("work", "/m.toml", manifest, 1.0)
        rows = [("run", None, SPEC, "7", "/w/run-7.out", None)]
        await store.record_adoption("work", {}, LAB, rows, "adopt 7", 2.0)
        path, stored = await store.session_manifest("work")
        assert path == "/m.toml" and set(stored["clusters"]) == {"other", "lab"}
        (job,) = await store.jobs("work")
        assert job.spec == SPEC and job.job_id == "7" and job.state.value == "QUEUED"
        assert (
            job.current is not None and job.current.kind == "adopt" and job.current.log_path == "/w/run-7.out"
        )
        assert await store.sessions_of(["7"]) == {"7": [("work", "lab")]}

        other_lab = {**LAB, "host": "login.example.org"}
        with pytest.raises(InputError, match="already has a cluster 'lab' set up otherwise"):
            await store.record_adoption(
                "work", {}, other_lab, [("x", None, SPEC, "8", None, None)], "adopt 8", 3.0
            )
        with pytest.raises(InputError, match="already has a job named 'run'"):
            await store.record_adoption(
                "work", {}, LAB, [("run", None, SPEC, "9", None, None)], "adopt 9", 3.0
            )
        assert [j.job_id for j in await store.jobs("work")] == ["7"]
        assert set((await store.session_manifest("work"))[1]["clusters"]) == {"other", "lab"}
    finally:
        await store.close()


async def test_a_backend_that_cannot_adopt_says_so_in_one_line(tmp_path: Path) -> None:
    cluster = config_clusters(tmp_path / "config.toml", {"here": {"backend": "local"}})["here"]
    backend = cluster.open_backend(tmp_path / "local-jobs", "adopted")
    store = await SessionStore.open(tmp_path / "jobdeck.db")
    try:
        report = await adopt(store, cluster, backend, ["12"], "adopted", 1.0)
        assert report.lines() == ["job 12: jobs of a local cluster (here) cannot be adopted yet"]
        assert not report.ok and await store.sessions() == []
    finally:
        await backend.close()
        await store.close()
