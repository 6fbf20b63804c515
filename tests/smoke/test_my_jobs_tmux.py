"""`jobdeck` with no session, as a new user on a login node runs it: the installed console script in a
real terminal (tmux), an empty home (no database, no config file), the local SLURM found through
squeue on PATH. A job submitted with plain sbatch shows in My jobs; ctrl+q quits cleanly. Every wait is
bounded; the job is scancelled at the end."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from tmux_terminal import Terminal, jobdeck_script, tmux_terminal

pytestmark = pytest.mark.cluster


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    with tmux_terminal("myjobs") as term:
        yield term


def test_jobdeck_without_a_session_opens_on_my_jobs(
    slurm_conf: str, terminal: Terminal, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    name = f"smoke-{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "SLURM_CONF": slurm_conf}
    submitted = subprocess.run(
        ["sbatch", "--parsable", f"--job-name={name}", f"--output={tmp_path}/%j.out", "--wrap", "sleep 300"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip().split(";")[0]
    status = tmp_path / "exit-status"
    clean = "env -u JOBDECK_DB -u JOBDECK_CONFIG -u XDG_STATE_HOME -u XDG_CONFIG_HOME -u KUBECONFIG -u COLUMNS -u LINES"
    command = (
        f"cd {shlex.quote(str(home))} && {clean} HOME={shlex.quote(str(home))} "
        f"SLURM_CONF={shlex.quote(slurm_conf)} {shlex.quote(jobdeck_script())}; echo $? > {shlex.quote(str(status))}"
    )
    try:
        terminal.start(f"sh -c {shlex.quote(command)}")
        terminal.wait(
            lambda s: "jobdeck — My jobs" in s and "local ok" in s, "My jobs listing the local SLURM", 90
        )
        terminal.keys("/")
        terminal.keys("-l", name)  # other tests' jobs share the queue: only this one is shown
        terminal.keys("Enter")
        screen = terminal.wait(
            lambda s: re.search(rf"{name}\s+(QUEUED|RUNNING)\s+{job_id}\s", s), "the job", 90
        )
        assert "no sessions yet" not in screen
        terminal.keys("C-q")  # quits from the filter box too (q would be typed into it)
        deadline = time.monotonic() + 15
        while not status.exists() or not status.read_text().strip():
            assert time.monotonic() < deadline, f"jobdeck did not exit; screen:\n{terminal.screen()}"
            time.sleep(0.2)
        assert status.read_text().strip() == "0"
    finally:
        subprocess.run(["scancel", job_id], env=env, capture_output=True, timeout=30, check=False)
