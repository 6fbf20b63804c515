"""A poll reconciles only the jobs whose stored view or observation changed since the last poll, and
a job changed behind the monitor's back (another process wrote its row) is reconciled again."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

import monitor.controller as controller_module
from backends.local.backend import LocalBackend
from monitor.controller import Controller, ControllerSettings
from monitor.model import JobSpec, Observation, PollReport
from monitor.states import State
from store.session_store import SessionStore


class RememberingBackend(LocalBackend):
    """The local backend, handing out the very same Observation for an unchanged answer, as the
    SLURM backend's squeue reader does for an unchanged line."""

    def __init__(self, cluster: str, state_dir: Path) -> None:
        super().__init__(cluster, state_dir)
        self.known: dict[Observation, Observation] = {}

    async def poll(self, job_ids: Sequence[str], since: float | None) -> PollReport:
        report = await super().poll(job_ids, since)
        same = {key: self.known.setdefault(obs, obs) for key, obs in report.observations.items()}
        return replace(report, observations=same)


async def test_only_changed_jobs_are_reconciled_and_a_row_changed_elsewhere_is_put_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "sleep.sh"
    script.write_text("#!/bin/sh\nsleep 30\n")
    script.chmod(0o755)
    db = tmp_path / "db.sqlite"
    store = await SessionStore.open(db)
    sid = await store.ensure_session("s", None, {}, time.time())
    await store.add_jobs(
        sid, [(f"j{n}", None, JobSpec("here", str(script), str(tmp_path))) for n in range(3)], 1.0
    )
    controller = Controller(
        store, "s", {"here": RememberingBackend("here", tmp_path / "local-jobs")}, ControllerSettings()
    )
    reconciled: list[int] = []
    real = controller_module.reconcile

    def counting(jobs, *args, **kwargs):
        reconciled.append(len(jobs))
        return real(jobs, *args, **kwargs)

    monkeypatch.setattr(controller_module, "reconcile", counting)
    try:
        await controller.submit(await store.jobs("s"))
        deadline = time.monotonic() + 20
        while {j.state for j in await store.jobs("s")} != {State.RUNNING}:
            assert time.monotonic() < deadline, "the jobs did not start"
            await controller.poll()
        reconciled.clear()
        await controller.poll()
        await controller.poll()
        assert reconciled[-1] == 0  # nothing changed: nothing to reconcile
        with sqlite3.connect(db) as other:  # another process rewrites one job's row
            other.execute("UPDATE jobs SET state = 'QUEUED', reason = 'stale' WHERE name = 'j1'")
        outcome = await controller.poll()
        assert [u.state for u in outcome.updates] == [State.RUNNING]
        assert [(j.state, j.reason) for j in await store.jobs("s")] == [(State.RUNNING, None)] * 3
    finally:
        await controller.cancel(await store.jobs("s"))
        await store.close()
