"""Issue 5 on the real cluster: restart policies applied by the acting monitor, and the recovery
commands (`restart`, `mark-failed`, `track`, `submit-pending`) driven through the real `jobdeck`
console script. Submissions are counted by SLURM itself (names carry a random suffix).

A LOST job is never restarted automatically: a real job no source knows cannot be made here (with
accounting on, every job SLURM ever ran stays known), so that rule is covered by the unit tests of
monitor.policies only.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from monitor_process import wait_for

pytestmark = pytest.mark.cluster

SESSION = {"poll_interval": 1, "validate_grace": 2}


def attempts(deck, job: str) -> list[tuple[int, str, str, str, int | None]]:
    return [
        (a["attempt"], a["kind"], a["job_id"], a["state"], a["exit_code"])
        for a in deck.status(job)["attempts"]
    ]


def untagged(argv: list[str]) -> list[str]:
    return [word for word in argv if not word.startswith("--comment=jobdeck:")]


# -- 8. restart policies ------------------------------------------------------------------------


def test_exit_code_policy_restarts_once_then_leaves_the_job_failed(local_deck, slurm):
    deck = local_deck
    job = deck.name("exit3")
    policy = {"on": ["exit:3"], "max_attempts": 2}
    first = deck.submit(deck.manifest([{"name": job, "args": ["--code", "3"], "restart": policy}], **SESSION))
    first_id = first[job]["job_id"]

    monitor = deck.attach_until_done(90)
    ids = slurm.submissions(job)
    assert len(ids) == 2 and ids[0] == first_id, ids
    assert attempts(deck, job) == [(1, "submit", first_id, "FAILED", 3), (2, "restart", ids[1], "FAILED", 3)]
    row = deck.jobs()[job]
    assert (row["state"], row["exit_code"], row["job_id"]) == ("FAILED", 3, ids[1]), row
    said = [m["message"] for m in monitor.lines() if m.get("kind") == "warning"]
    assert [m for m in said if "restart policy: EXIT:3 (attempt 2 of 2)" in m and ids[1] in m], said

    (report,) = deck.json("sync", "--session", deck.session)  # nothing left to do: no third attempt
    assert report["changes"] == [], report
    assert len(deck.status(job)["attempts"]) == 2 and slurm.submissions(job) == ids


def test_requeue_policy_requeues_with_the_same_id(local_deck, slurm):
    deck = local_deck
    job = deck.name("requeue")
    policy = {"on": ["exit:3"], "max_attempts": 2, "requeue": True}
    first = deck.submit(deck.manifest([{"name": job, "args": ["--code", "3"], "restart": policy}], **SESSION))
    job_id = first[job]["job_id"]

    monitor = deck.attach("--exit-when-done")
    deck.wait_jobs(lambda rows: rows[job]["attempt"] == 2, 60, "the policy requeues the job")
    assert attempts(deck, job) == [(1, "submit", job_id, "FAILED", 3), (2, "requeue", job_id, "QUEUED", None)]
    held = slurm.held(job_id)
    assert held is not None and (held["JobState"], held["Restarts"]) == ("PENDING", "1"), held

    slurm.run("scontrol", "update", f"JobId={job_id}", "StartTime=now")  # skip the ~2 min requeue hold
    assert monitor.finish(90) == 0, monitor.output()
    assert attempts(deck, job) == [(1, "submit", job_id, "FAILED", 3), (2, "requeue", job_id, "FAILED", 3)]
    status = deck.status(job)
    assert status["attempts"][1]["requeues"] == 1, status["attempts"]
    requeues = [e["message"] for e in status["events"] if e["kind"] == "requeue"]
    assert len(requeues) == 1 and "requeued with scontrol, same ID" in requeues[0], status["events"]
    assert slurm.submissions(job) == [job_id]  # one sbatch, and two runs once accounting lists the second
    wait_for(lambda: len(slurm.runs(job)) == 2, 30, f"accounting lists both runs of {job_id}")


# -- 9. recovery commands -----------------------------------------------------------------------


def test_restart_dry_run_submits_nothing_and_restart_reuses_the_arguments(local_deck, slurm):
    deck = local_deck
    job = deck.name("again")
    args = ["--touch", "out/a b.txt", "--code", "4"]
    first = deck.submit(deck.manifest([{"name": job, "args": args}], **SESSION))[job]["job_id"]
    deck.attach_until_done(60)
    assert attempts(deck, job) == [(1, "submit", first, "FAILED", 4)]

    dry = deck.run("restart", f"{deck.session}/{job}", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    sbatch_line = next(line for line in dry.stdout.splitlines() if line.startswith("sbatch "))
    argv = shlex.split(sbatch_line.removesuffix(" <<'EOF'"))
    assert argv[:3] == ["sbatch", "--parsable", f"--job-name={job}"] and f"--chdir={deck.workdir}" in argv, (
        argv
    )
    assert f"set -- {shlex.join(args)}" in dry.stdout, dry.stdout
    assert slurm.submissions(job) == [first] and len(deck.status(job)["attempts"]) == 1

    restarted = deck.json("restart", f"{deck.session}/{job}")
    (submission,) = restarted["submissions"]
    assert submission["error"] is None, submission
    assert untagged(shlex.split(submission["command"])) == untagged(argv)  # each call has its own tag
    deck.attach_until_done(60)
    second = submission["job_id"]
    assert attempts(deck, job) == [(1, "submit", first, "FAILED", 4), (2, "restart", second, "FAILED", 4)]
    logs = [Path(a["log_path"]).read_text().splitlines()[0] for a in deck.status(job)["attempts"]]
    assert logs == [f"act.sh args: {' '.join(args)}"] * 2, logs
    assert slurm.submissions(job) == [first, second]


def test_mark_failed_settles_a_running_job_by_hand(local_deck, slurm):
    deck = local_deck
    job = deck.name("wedged")
    job_id = deck.submit(deck.manifest([{"name": job, "args": ["--sleep", "300"]}], **SESSION))[job]["job_id"]
    deck.wait_jobs(
        lambda rows: deck.json("sync", "--session", deck.session) and rows[job]["state"] == "RUNNING",
        30,
        "the job runs",
    )
    marked = deck.json("mark-failed", f"{deck.session}/{job}", "--reason", "node looks wedged")
    (row,) = marked["jobs"]
    assert (row["state"], row["reason"], row["job_id"]) == (
        "FAILED",
        "marked failed by hand: node looks wedged",
        job_id,
    )
    deck.json("sync", "--session", deck.session)
    status = deck.status(job)
    assert (status["state"], status["attempts"][-1]["state"]) == ("FAILED", "FAILED"), status
    assert status["events"][-1]["kind"] == "mark-failed", status["events"]
    held = slurm.held(job_id)
    assert held is not None and held["JobState"] == "RUNNING", held  # the scheduler is not touched
    assert slurm.submissions(job) == [job_id]


def test_track_registers_jobs_added_to_the_manifest_and_submit_pending_submits_them_once(local_deck, slurm):
    deck = local_deck
    old, new1, new2 = deck.name("old"), deck.name("new1"), deck.name("new2")
    deck.submit(deck.manifest([{"name": old}], **SESSION))
    deck.manifest([{"name": n} for n in (old, new1, new2)], **SESSION)  # the same file, two jobs more

    assert deck.json("track", deck.session) == {"session": deck.session, "added": 2, "never_submitted": 2}
    rows = deck.jobs()
    assert {n: (r["state"], r["attempt"]) for n, r in rows.items() if n != old} == {
        new1: ("PENDING", 0),
        new2: ("PENDING", 0),
    }
    assert slurm.submissions(new1) == [] and slurm.submissions(new2) == []

    outcomes = {o["name"]: o for o in deck.submit_pending()}
    assert sorted(outcomes) == sorted([new1, new2]) and all(o["error"] is None for o in outcomes.values())
    assert deck.submit_pending() == []
    assert deck.json("track", deck.session)["added"] == 0
    deck.attach_until_done(60)
    assert {n: r["state"] for n, r in deck.jobs().items()} == dict.fromkeys((old, new1, new2), "SUCCEEDED")
    assert {n: slurm.submissions(n) for n in (new1, new2)} == {n: [o["job_id"]] for n, o in outcomes.items()}
    assert len(slurm.submissions(old)) == 1
