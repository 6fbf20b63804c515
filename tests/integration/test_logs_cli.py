"""`jobdeck logs` against the real SLURM cluster, on this machine and through SSH: a finished job's
log, its stderr file, --tail, an earlier attempt, --follow of a running job, and one-line errors."""

from __future__ import annotations

import subprocess
import time
from typing import Any

SESSION = {"name": "logs", "validate_grace": 0, "poll_interval": 1}
SCRIPT = "#!/bin/sh\nfor i in 1 2 3 4 5; do echo \"line $i\"; done\necho 'to stderr' >&2\nexit 3\n"
SLOW = "#!/bin/sh\necho start\nwhile [ ! -e go ]; do sleep 0.2; done\necho after\n"


def test_logs_of_finished_and_running_jobs(cluster_deck: Any, transport: Any) -> None:
    deck = cluster_deck
    (deck.workdir / "five.sh").write_text(SCRIPT)
    (deck.workdir / "slow.sh").write_text(SLOW)
    cluster = transport.cluster(deck.workdir)
    jobs = [
        {"name": "five", "script": "five.sh", "log": "logs/%x-%j.out", "err": "logs/%x-%j.err"},
        {"name": "slow", "script": "slow.sh"},
    ]
    manifest = deck.manifest(SESSION, {"c": cluster}, jobs)
    assert all(o["error"] is None for o in deck.json("submit", str(manifest), "--no-tui"))
    deck.sync_until("logs", lambda js: js[("five", None)]["state"] == "FAILED", 60, "five failed")

    printed = deck.run("logs", "logs/five")
    assert (printed.returncode, printed.stdout) == (0, "".join(f"line {i}\n" for i in range(1, 6))), (
        printed.stderr
    )
    assert deck.run("logs", "logs/five", "--stderr").stdout == "to stderr\n"
    assert deck.run("logs", "logs/five", "--tail", "2").stdout == "line 4\nline 5\n"
    assert deck.run("logs", "logs/five", "--attempt", "1").stdout.startswith("line 1\n")

    missing = deck.run("logs", "logs/five", "--attempt", "2")
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        "jobdeck: error: logs/five has no attempt 2 (it has 1)"]  # fmt: skip
    merged = deck.run("logs", "logs/slow", "--stderr")
    assert merged.returncode == 2 and "stderr goes to the same log" in merged.stderr

    deck.sync_until("logs", lambda js: js[("slow", None)]["state"] == "RUNNING", 60, "slow running")
    follow = subprocess.Popen(
        [*deck.command(), "logs", "logs/slow", "--follow"],
        stdout=subprocess.PIPE,
        text=True,
        env=deck.environ(),
    )
    try:
        assert follow.stdout is not None and follow.stdout.readline() == "start\n"
        (deck.workdir / "go").touch()
        assert follow.stdout.readline() == "after\n"
        deadline = time.monotonic() + 60
        while follow.poll() is None:  # it ends once the store says the job has ended
            assert time.monotonic() < deadline, "the follow did not end with the job"
            deck.json("sync", "--session", "logs")
            time.sleep(0.5)
        assert follow.returncode == 0
    finally:
        follow.kill()


def test_logs_of_a_local_job(deck: Any) -> None:
    (deck.workdir / "five.sh").write_text(SCRIPT)
    manifest = deck.manifest(
        {"name": "here"}, {"here": {"backend": "local"}}, [{"name": "five", "script": "five.sh"}]
    )
    assert all(o["error"] is None for o in deck.json("submit", str(manifest), "--no-tui"))
    deck.sync_until("here", lambda js: js[("five", None)]["state"] == "FAILED", 60, "five failed")
    printed = deck.run("logs", "here/five", "--tail", "3")
    assert (printed.returncode, printed.stdout, printed.stderr) == (0, "line 4\nline 5\nto stderr\n", "")
