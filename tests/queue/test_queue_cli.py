"""Jobs submitted with plain sbatch, listed by `jobdeck queue` with the scheduler's facts: locally
and over SSH (the `queue_deck` fixture's two variants)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.queue.conftest import QueueDeck

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def test_a_running_job_is_listed_with_its_partition_time_limit_and_node(queue_deck: QueueDeck) -> None:
    name = queue_deck.name("run")
    job_id = queue_deck.sbatch(f"--job-name={name}", "--time=7", "sleeper.sh", "300")

    def running() -> dict[str, Any] | None:
        row = queue_deck.mine().get(name)
        return row if row and row["state"] == "RUNNING" else None

    row = queue_deck.wait(running, 120, f"RUNNING row of {name}")
    assert row["job_id"] == job_id and row["cluster"] == "lab"
    assert row["scheduler_state"] == "RUNNING" and row["session"] is None
    assert row["partition"] == "debug"
    assert row["time_limit"] == 7 * 60
    assert row["nodes"] and row["cpus"] and row["cpus"] >= 1
    assert 0 <= row["time_left"] <= 7 * 60 and row["elapsed"] is not None
    assert row["cpu_efficiency"] is None and row["max_rss"] is None  # said once the job ended
    text = queue_deck.run("queue")
    assert text.returncode == 0 and name in text.stdout and job_id in text.stdout


def test_finished_jobs_come_with_exit_code_and_how_well_they_used_what_they_asked(
    queue_deck: QueueDeck,
) -> None:
    burn, fail = queue_deck.name("burn"), queue_deck.name("fail")
    # the cluster samples memory every 30 s (JobAcctGatherFrequency): a 4 s job asks for samples
    # every second, or accounting has no MaxRSS for it
    burn_id = queue_deck.sbatch(f"--job-name={burn}", "--mem=200M", "--acctg-freq=task=1", "burn.sh", "4")
    fail_id = queue_deck.sbatch(f"--job-name={fail}", "fail3.sh")

    def both_accounted() -> dict[str, dict[str, Any]] | None:
        rows = queue_deck.mine("--since", "1")
        done = [rows.get(n) for n in (burn, fail)]
        return rows if all(r and r["state"] in ("SUCCEEDED", "FAILED") for r in done) else None

    rows = queue_deck.wait(both_accounted, 180, "finished rows from accounting")
    ok, failed = rows[burn], rows[fail]
    assert ok["job_id"] == burn_id and ok["state"] == "SUCCEEDED" and ok["exit_code"] == 0
    assert ok["scheduler_state"] == "COMPLETED" and ok["elapsed"] >= 3
    assert ok["req_mem"] == 200 * 2**20
    assert ok["max_rss"] is not None and ok["max_rss"] > 50 * 2**20
    assert ok["cpu_efficiency"] is not None and 0.2 < ok["cpu_efficiency"] <= 1.0
    assert failed["job_id"] == fail_id and failed["state"] == "FAILED" and failed["exit_code"] == 3
    assert failed["scheduler_state"] == "FAILED"


def test_a_job_of_a_session_is_listed_with_the_sessions_name(queue_deck: QueueDeck) -> None:
    name = queue_deck.name("sess")
    session = f"s-{name}"
    manifest = queue_deck.workdir / "m.toml"
    host = queue_deck.env.get("JOBDECK_SSH_CONFIG") and "jobdeck-test"
    manifest.write_text(
        f'[session]\nname = "{session}"\n[clusters.lab]\nbackend = "slurm"\nworkdir = "{queue_deck.workdir}"\n'
        + (f'host = "{host}"\n' if host else "")
        + f'[[jobs]]\nname = "{name}"\nscript = "sleeper.sh"\nargs = ["300"]\n',
        encoding="utf-8",
    )
    submitted = queue_deck.run("submit", str(manifest), "--no-tui", "--json")
    assert submitted.returncode == 0, submitted.stderr
    job_id = queue_deck.json("list", "--session", session)[0]["job_id"]
    queue_deck.submitted.append(job_id)
    row = queue_deck.wait(lambda: queue_deck.mine().get(name), 60, f"row of {name}")
    assert row["job_id"] == job_id and row["session"] == session


def test_cancel_and_logs_take_a_job_of_the_queue_by_its_cluster_and_id(queue_deck: QueueDeck) -> None:
    name = queue_deck.name("act")
    job_id = queue_deck.sbatch(f"--job-name={name}", "--time=5", "sleeper.sh", "300")
    queue_deck.wait(lambda: queue_deck.mine().get(name), 60, f"row of {name}")

    log = queue_deck.run("logs", "--cluster", "lab", job_id)  # the job has printed nothing yet
    assert log.returncode in (0, 1), log.stderr  # 1: its log file is not created until it starts
    dry = queue_deck.run("cancel", "--cluster", "lab", job_id, "--dry-run")
    assert dry.returncode == 0 and f"lab: would cancel job {job_id} ({name}" in dry.stdout
    assert queue_deck.mine()[name]["state"] in ("QUEUED", "RUNNING")
    sent = queue_deck.json("cancel", "--cluster", "lab", job_id)
    assert sent["actions"] == [f"lab: cancel sent for job {job_id} ({name}, {sent['jobs'][0]['state']})"]

    def cancelled() -> dict[str, Any] | None:
        row = queue_deck.mine().get(name)
        return row if row and row["state"] == "CANCELLED" else None

    queue_deck.wait(cancelled, 120, f"{name} CANCELLED")
    again = queue_deck.run("cancel", "--cluster", "lab", job_id)
    assert again.returncode == 0 and f"job {job_id} ({name}) already ended CANCELLED" in again.stdout


def test_logs_of_a_running_job_of_the_queue(queue_deck: QueueDeck) -> None:
    name = queue_deck.name("log")
    job_id = queue_deck.sbatch(
        f"--job-name={name}", "--time=5", "--wrap", "echo started; echo second; sleep 300"
    )

    def printed() -> str | None:
        log = queue_deck.run("logs", "--cluster", "lab", job_id)
        return log.stdout if log.returncode == 0 and "second" in log.stdout else None

    assert queue_deck.wait(printed, 120, f"the log of {name}") == "started\nsecond\n"
    assert queue_deck.run("logs", "--cluster", "lab", job_id, "--tail", "1").stdout == "second\n"
    row = queue_deck.mine()[name]
    assert row["log_path"] == f"{queue_deck.workdir}/slurm-{job_id}.out"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("logs", "--cluster", "lab", "999999999"), "job 999999999: not in the queue of lab (nor ended in the last 24 h)"),
        (("cancel", "--cluster", "nope", "1"), "--cluster: unknown cluster 'nope' (known: lab)"),
        (("cancel", "--cluster", "lab", "--session", "s", "1"), "--cluster and --session: name jobs of a session, or job IDs of a cluster"),
        (("logs", "--cluster", "lab", "--attempt", "2", "1"), "--cluster: a job of the queue has one attempt and no session to name"),
    ],
)  # fmt: skip
def test_bad_queue_job_references_are_one_line(
    queue_deck: QueueDeck, args: tuple[str, ...], said: str
) -> None:
    result = queue_deck.run(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"jobdeck: error: {said}"]


def test_a_damaged_database_does_not_hide_the_queue(queue_deck: QueueDeck) -> None:
    name = queue_deck.name("dmg")
    job_id = queue_deck.sbatch(f"--job-name={name}", "--time=5", "sleeper.sh", "300")
    queue_deck.db.parent.mkdir(parents=True, exist_ok=True)
    queue_deck.db.write_bytes(b"this is no database " * 400)
    result = queue_deck.run("queue", "--json")
    assert result.returncode == 1, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows[name]["job_id"] == job_id and rows[name]["session"] is None
    said = result.stderr.strip().splitlines()
    assert said[0].startswith(f"jobdeck: jobs not named by their sessions: {queue_deck.db}: ")
    assert said[-1] == "jobdeck: error: the session database could not be read (see above)"
    assert queue_deck.db.read_bytes() == b"this is no database " * 400  # nothing stored is touched
