"""`jobdeck demo` used as a person would: the installed console script in a real terminal (tmux),
keys typed with `tmux send-keys`, the screen read with `tmux capture-pane`. Every wait is bounded."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from tmux_terminal import Terminal, jobdeck_script, tmux_terminal

DEMO_JOBS = ("prepare", "train", "flaky", "sweep", "evaluate", "tail-me")


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    with tmux_terminal("demo") as term:
        yield term


def test_demo_shows_jobs_logs_help_and_quits_cleanly(terminal: Terminal, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    status = tmp_path / "exit-status"
    jobdeck = jobdeck_script()
    # COLUMNS and LINES (set under pytest) would override the terminal's own size
    clean = "env -u JOBDECK_DB -u JOBDECK_CONFIG -u XDG_STATE_HOME -u XDG_CONFIG_HOME -u COLUMNS -u LINES"
    command = (
        f"cd {shlex.quote(str(home))} && {clean} HOME={shlex.quote(str(home))} {shlex.quote(jobdeck)} demo; "
        f"echo $? > {shlex.quote(str(status))}"
    )
    terminal.start(f"sh -c {shlex.quote(command)}")
    db = home / ".local" / "state" / "jobdeck" / "demo.db"
    session = ""
    try:
        screen = terminal.wait(
            lambda s: "jobdeck — demo-" in s and all(name in s for name in DEMO_JOBS), "the demo's jobs"
        )
        session = re.search(r"jobdeck — (demo-\d{8}-\d{6})", screen)[1]  # type: ignore[index]
        assert re.search(r"prepare\s+(QUEUED|RUNNING|VALIDATING|SUCCEEDED)", screen), screen

        terminal.keys("l")  # the cursor starts on prepare
        title = f"{session}/prepare on laptop · attempt 1 (1 of 1)"
        terminal.wait(lambda s: title in s and "prepare: starting" in s, "prepare's log")

        terminal.keys("Escape")
        terminal.wait(lambda s: f"jobdeck — {session}" in s and "tail-me" in s, "the jobs table again")

        terminal.keys("?")
        help_rows = ("jobdeck keys", "jobs.validate", "jobdeck validate JOB", "app.quit")
        terminal.wait(lambda s: all(row in s for row in help_rows), "the help")
        terminal.keys("Escape")
        terminal.wait(lambda s: "jobdeck keys" not in s and "tail-me" in s, "the help to close")

        terminal.keys("q")
        deadline = time.monotonic() + 15
        while not status.exists() or not status.read_text().strip():
            assert time.monotonic() < deadline, f"jobdeck did not exit; screen:\n{terminal.screen()}"
            time.sleep(0.2)
        assert status.read_text().strip() == "0"
        assert db.exists()
    finally:
        if session:  # the demo's slow jobs keep running after quit, as they should: stop them
            subprocess.run(
                [jobdeck, "--db", str(db), "cancel", "--session", session, *DEMO_JOBS],
                capture_output=True,
                timeout=60,
                env={**os.environ, "HOME": str(home)},
            )
