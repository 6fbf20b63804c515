"""My jobs over the real SLURM test cluster (listed here, and through the loopback sshd): a job submitted with plain `sbatch` (no manifest, no
session) appears when the app opens on an empty database, with its partition and time limit; its log
is read through the backend, and `c` cancels it after asking; `A` adopts another into the session
`adopted`, which then names it and opens on enter. The cluster is shared: only the job
this test submits (by its unique name) is looked at, and it is scancelled at the end."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.widgets import Input

from tui.config import load_config
from tui.screens.confirm_screen import ConfirmScreen
from tui.screens.jobs_screen import JobsScreen
from tui.screens.log_screen import LogScreen
from tui.screens.queue_screen import QueueScreen
from tui.widgets.log_view import LogView

pytestmark = pytest.mark.cluster

SIZE = (150, 40)


@dataclass(frozen=True)
class Sleeper:
    name: str
    job_id: str
    log: Path


@pytest.fixture
def sleeper(slurm_conf: str, tmp_path: Path) -> Iterator[Sleeper]:
    """A sleeping job submitted with plain sbatch under a unique name; scancelled when the test ends."""
    name = f"myjobs-{uuid.uuid4().hex[:10]}"
    log = tmp_path / f"{name}.out"
    env = {**os.environ, "SLURM_CONF": slurm_conf}
    result = subprocess.run(
        ["sbatch", "--parsable", f"--job-name={name}", f"--output={log}", "--time=10",
         f"--chdir={tmp_path}", "--wrap", f"echo hello from {name}; sleep 300"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, f"sbatch exited {result.returncode}: {result.stderr}"
    job_id = result.stdout.strip().split(";")[0]
    try:
        yield Sleeper(name, job_id, log)
    finally:
        subprocess.run(["scancel", job_id], env=env, capture_output=True, timeout=30, check=False)
        (Path.home() / ".jobdeck" / "adopted" / "lab" / f"{job_id}.sh").unlink(missing_ok=True)


@pytest.fixture(params=["local", pytest.param("ssh", marks=pytest.mark.ssh)])
def lab_table(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The config file's table of the test cluster, reached here or through the loopback sshd."""
    table = '[clusters.lab]\nbackend = "slurm"\n'
    if request.param == "ssh":
        monkeypatch.setenv("JOBDECK_SSH_CONFIG", str(request.getfixturevalue("ssh_config")))
        table += f'host = "{os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")}"\n'
    return table


async def test_a_plain_sbatch_job_shows_in_my_jobs_and_c_cancels_it(
    sleeper, tmp_path, make_app, lab_table
) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text(lab_table)
    app = make_app(tmp_path / "empty.db", None, load_config(config_file), polling=True)
    async with app.run_test(size=SIZE) as pilot:
        await app.until(lambda: isinstance(app.screen, QueueScreen), "My jobs")
        await pilot.press("slash")  # other tests' jobs share the queue: only this one is shown
        app.screen.query_one("#filter", Input).value = sleeper.name
        await pilot.press("enter")
        await app.until(lambda: app.row(sleeper.name) is not None, "the sbatch job", timeout=120)
        row = app.row(sleeper.name)
        assert row[2] == sleeper.job_id and row[3] == "lab", row
        await app.until(lambda: app.row(sleeper.name)[1] == "RUNNING", "the job to run", timeout=180)
        await app.until(lambda: app.table.cursor_key == f"lab/{sleeper.job_id}", "the cursor on it")
        detail = app.static_text("#detail-body")
        assert "partition: " in detail and "time limit: 10:00" in detail, detail
        assert f"stdout: {sleeper.log}" in detail, detail
        assert "lab ok, polled" in app.static_text("#status")

        await app.until(lambda: sleeper.log.exists() and sleeper.log.read_text(), "the job's first line")
        await pilot.press("l")
        await app.until(lambda: isinstance(app.screen, LogScreen), "the log screen")
        view = app.screen.query_one(LogView)
        await app.until(
            lambda: [x.text for x in view.body.lines] == [f"hello from {sleeper.name}"], "the log"
        )
        await pilot.press("escape")
        await app.until(lambda: isinstance(app.screen, QueueScreen), "My jobs again")

        await pilot.press("c")
        await app.until(lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert f"lab/{sleeper.job_id}  {sleeper.name}  RUNNING" in app.screen.body
        await pilot.press("y")
        await app.until(
            lambda: app.row(sleeper.name) is not None and app.row(sleeper.name)[1] == "CANCELLED",
            "the job CANCELLED",
            timeout=120,
        )
    squeue = subprocess.run(
        ["squeue", "-h", "-j", sleeper.job_id, "-o", "%T"], capture_output=True, text=True, timeout=20
    )
    assert squeue.stdout.strip() in ("", "CANCELLED", "COMPLETING")


async def test_a_plain_sbatch_job_adopted_from_my_jobs_shows_its_session(sleeper, tmp_path, make_app) -> None:
    """A, after the confirmation, adopts the job into the session `adopted`: it is named by it in
    My jobs at once, and enter opens the session with the job under its own ID."""
    config_file = tmp_path / "config.toml"
    config_file.write_text('[clusters.lab]\nbackend = "slurm"\n')
    app = make_app(tmp_path / "empty.db", None, load_config(config_file), polling=True)
    async with app.run_test(size=SIZE) as pilot:
        await app.until(lambda: isinstance(app.screen, QueueScreen), "My jobs")
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = sleeper.name
        await pilot.press("enter")
        await app.until(lambda: app.table.cursor_key == f"lab/{sleeper.job_id}", "the job", timeout=120)
        assert app.row(sleeper.name)[4] != "adopted"
        await pilot.press("A")
        await app.until(lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert (
            "session `adopted`" in app.screen_text()
            and f"lab/{sleeper.job_id}  {sleeper.name}" in app.screen.body
        )
        await pilot.press("y")
        await app.until(
            lambda: app.notes_with(f"adopted job {sleeper.job_id} as adopted/{sleeper.name}"),
            "the report",
            120,
        )
        await app.until(lambda: app.row(sleeper.name)[4] == "adopted", "the SESSION column", timeout=60)
        await pilot.press("enter")
        await app.until(lambda: isinstance(app.screen, JobsScreen), "the session adopted")
        assert app.screen.session == "adopted"
        await app.until(
            lambda: app.row(sleeper.name) is not None, "the adopted job in its session", timeout=60
        )
        assert sleeper.job_id in app.row(sleeper.name)
