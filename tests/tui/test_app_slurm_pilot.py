"""The app over the real SLURM test cluster: a session submitted with the real `jobdeck submit
--no-tui`, then watched live by the app as polls move its jobs, one cancelled from the keyboard and
a real log read through the backend."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tui.demo import write_session_files
from tui.screens.confirm_screen import ConfirmScreen
from tui.screens.jobs_screen import JobsScreen
from tui.screens.log_screen import LogScreen
from tui.widgets.log_view import LogView

pytestmark = pytest.mark.cluster

SIZE = (150, 40)
SCRIPT = """#!/bin/sh
# usage: step.sh CODE SLEEP OUTPUT  (OUTPUT "-": none)
echo "step.sh in slurm job $SLURM_JOB_ID: code $1 sleep $2"
sleep "$2"
[ "$3" = - ] || echo done > "$3"
echo "step.sh done"
exit "$1"
"""
MANIFEST = """\
[session]
name = "slurm-app"
poll_interval = 0.5
validate_grace = 1.0

[clusters.lab]
backend = "slurm"
workdir = "{workdir}"

[defaults]
cluster = "lab"
log = "logs/%x-%j.out"

[[jobs]]
name = "ok"
script = "step.sh"
args = ["0", "2", "ok.txt"]
outputs = ["ok.txt"]

[[jobs]]
name = "fail"
script = "step.sh"
args = ["3", "2", "-"]

[[jobs]]
name = "sleeper"
script = "step.sh"
args = ["0", "300", "-"]
"""


@dataclass(frozen=True)
class Submitted:
    db: Path
    session: str
    workdir: Path
    ids: dict[str, str]  # job name -> SLURM job ID


def jobdeck_script() -> str:
    beside = Path(sys.executable).parent / "jobdeck"
    found = str(beside) if beside.exists() else shutil.which("jobdeck")
    assert found, f"no `jobdeck` console script next to {sys.executable} or on PATH: pip install -e ."
    return found


@pytest.fixture
def submitted(slurm_conf: str, tmp_path: Path) -> Iterator[Submitted]:
    """The session submitted by the real CLI; every job is scancelled when the test ends."""
    workdir = tmp_path / "work"
    manifest = write_session_files(
        workdir, "slurm-app.toml", MANIFEST.format(workdir=workdir), {"step.sh": SCRIPT}
    )
    db = tmp_path / "jobdeck.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")} | {"SLURM_CONF": slurm_conf}
    result = subprocess.run(
        [jobdeck_script(), "--db", str(db), "submit", "--no-tui", "--json", str(manifest)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, f"submit exited {result.returncode}: {result.stdout}{result.stderr}"
    ids = {o["name"]: o["job_id"] for o in json.loads(result.stdout)}
    try:
        yield Submitted(db, "slurm-app", workdir, ids)
    finally:
        subprocess.run(["scancel", *ids.values()], env=env, capture_output=True, timeout=30, check=False)


async def test_the_table_follows_slurm_and_c_cancels_and_l_reads_the_log(submitted, make_app) -> None:
    app = make_app(submitted.db, submitted.session, polling=True)
    async with app.run_test(size=SIZE) as pilot:
        await app.until(lambda: isinstance(app.screen, JobsScreen) and app.rows(), "the jobs table")
        for name, job_id in submitted.ids.items():
            assert app.row(name) is not None and job_id in app.row(name), app.rows()

        def states() -> dict[str, str]:
            return {name: app.row(name)[1] for name in submitted.ids}

        # the cluster is shared with other tests: the sleeper may still wait for a CPU
        await app.until(
            lambda: (
                states()
                in [{"ok": "SUCCEEDED", "fail": "FAILED", "sleeper": s} for s in ("QUEUED", "RUNNING")]
            ),
            "ok and fail to settle while the sleeper waits or runs",
            timeout=120,
        )
        assert "lab ok, polled" in app.static_text("#status")

        await pilot.press("home")
        while app.table.cursor_key != "slurm-app/ok":
            await pilot.press("down")
        await pilot.press("l")
        await app.until(lambda: isinstance(app.screen, LogScreen), "the log screen")
        view = app.screen.query_one(LogView)
        first = f"step.sh in slurm job {submitted.ids['ok']}: code 0 sleep 2"
        await app.until(lambda: [line.text for line in view.body.lines] == [first, "step.sh done"], "the log")
        title = str(view.query_one("#log-title").content)
        assert f"job {submitted.ids['ok']}" in title and str(submitted.workdir / "logs") in title
        await pilot.press("escape")
        await app.until(lambda: isinstance(app.screen, JobsScreen), "the jobs screen again")

        while app.table.cursor_key != "slurm-app/sleeper":
            await pilot.press("down")
        await pilot.press("c")
        await app.until(lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert f"  {submitted.ids['sleeper']}" in app.screen.body and "slurm-app/sleeper  " in app.screen.body
        await pilot.press("y")
        await app.until(lambda: states()["sleeper"] == "CANCELLED", "the sleeper CANCELLED", timeout=60)
    squeue = subprocess.run(
        ["squeue", "-h", "-j", submitted.ids["sleeper"], "-o", "%T"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert squeue.stdout.strip() in ("", "CANCELLED", "COMPLETING")  # gone from the queue, or leaving it
