"""Issue 14 on the real SLURM cluster, here and over SSH: with nobody attached, only `jobdeck sync`
run by a plain loop (the README's cron line), two at once every second as overlapping cron runs
would, a chain holds the stage after a PARTIAL one, a 5-period loop runs each period once in order
with its own argument, a restart policy gives exactly `max_attempts` submissions, and nothing is
submitted twice (counted by SLURM's accounting: every name carries a random suffix).
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from monitor_process import shown, wait_for

Rows = dict[str, dict[str, Any]]

pytestmark = pytest.mark.cluster

FAST = {"poll_interval": 1, "validate_grace": 0}


def cron(deck: Any, done: Callable[[Rows], bool], limit: float, what: str) -> Rows:
    """`jobdeck sync` twice at once, every second, until `done(jobs)`; every run must succeed."""

    def tick() -> Rows | None:
        runs = deck.run_all(
            ["--db", str(deck.db), "sync", "--json"], ["--db", str(deck.db), "sync", "--json"]
        )
        for run in runs:
            assert run.returncode == 0, shown(run)
            for entry in json.loads(run.stdout):
                assert entry["acting"] or entry["monitored_by"], entry  # acted, or said who did
        jobs = deck.jobs()
        if done(jobs):
            return jobs
        time.sleep(1)
        return None

    return wait_for(tick, limit, what, every=0)


def test_sync_alone_holds_the_stage_after_a_stage_that_left_its_output_out(slurm_deck_any, slurm):
    deck = slurm_deck_any
    first, middle, last = deck.name("first"), deck.name("middle"), deck.name("last")
    manifest = deck.manifest(
        [
            {"name": first, "args": ["--write", "out/first.txt"], "outputs": ["out/first.txt"]},
            {"name": middle, "after": [first], "args": ["--skip-once-if", "x", "x", ".skipped", "--write",
                                                        "out/middle.txt"], "outputs": ["out/middle.txt"]},
            {"name": last, "after": [middle], "args": ["--write", "out/last.txt"], "outputs": ["out/last.txt"]},
        ],
        **FAST,
    )  # fmt: skip
    assert list(deck.submit(manifest)) == [first]

    jobs = cron(deck, lambda jobs: jobs[middle]["state"] == "FAILED", 120, f"{middle} settles FAILED")
    assert (jobs[middle]["exit_code"], jobs[first]["state"]) == (0, "SUCCEEDED"), (
        jobs
    )  # exit 0, output missing
    held = jobs[last]
    assert (held["state"], held["job_id"]) == ("PENDING", None), held
    assert held["reason"].startswith(f"held: {middle} FAILED"), held
    cron(deck, lambda jobs: True, 10, "two more rounds")  # held: later syncs submit nothing either
    runs = slurm.accounted([first, middle])
    assert {name: len(ids) for name, ids in runs.items()} == {first: 1, middle: 1}, runs
    assert slurm.runs([last]) == {last: []}


def test_sync_alone_runs_a_five_period_loop_once_each_in_order(slurm_deck_any, slurm):
    deck = slurm_deck_any
    loop = deck.name("loop")
    stages = [f"{loop}-{period}" for period in range(5)]
    assert list(deck.submit(deck.manifest([deck.loop(loop, 5, sleep=0.2)], **FAST))) == [stages[0]]

    jobs = cron(deck, lambda jobs: all(jobs[s]["state"] == "SUCCEEDED" for s in stages), 240, "every period")
    assert [jobs[s]["attempt"] for s in stages] == [1] * 5, jobs
    for before, after in itertools.pairwise(stages):  # each submitted after the one before ended
        assert jobs[after]["submit_time"] >= jobs[before]["end_time"], (jobs[before], jobs[after])
    for period, stage in enumerate(stages):
        assert deck.periods_logged(jobs[stage]) == [(period, 5)], (stage, deck.log(jobs[stage]))
    runs = slurm.accounted(stages)
    assert {s: len(ids) for s, ids in runs.items()} == dict.fromkeys(stages, 1), runs
    assert [runs[s][0] for s in stages] == [jobs[s]["job_id"] for s in stages]


def test_sync_alone_applies_a_restart_policy_up_to_max_attempts(slurm_deck_any, slurm):
    deck = slurm_deck_any
    job = deck.name("exits3")
    policy = {"on": ["exit:3"], "max_attempts": 3, "backoff": 0}
    deck.submit(deck.manifest([{"name": job, "args": ["--exit", "3"], "restart": policy}], **FAST))

    def third_failed(jobs: Rows) -> bool:
        return jobs[job]["attempt"] == 3 and jobs[job]["state"] == "FAILED"

    jobs = cron(deck, third_failed, 180, f"{job}'s third attempt fails")
    cron(deck, lambda jobs: True, 10, "two more rounds")  # no fourth attempt
    assert (jobs[job]["exit_code"], deck.jobs()[job]["attempt"]) == (3, 3), jobs[job]

    def three_runs() -> list[str] | None:  # accounting may lag the queue by a moment
        found = slurm.runs([job])[job]
        return found if len(found) >= 3 else None

    ids = wait_for(three_runs, 30, f"accounting lists {job}'s three runs")
    assert len(ids) == 3 and ids[-1] == jobs[job]["job_id"], ids
    kinds = [a["kind"] for a in deck.status(job)["attempts"]]
    assert kinds == ["submit", "restart", "restart"], kinds


def test_sync_with_a_live_monitor_only_says_who_holds_the_session(slurm_deck_any):
    deck = slurm_deck_any
    job = deck.name("long")
    deck.submit(deck.manifest([{"name": job, "args": ["--sleep", "300"]}], **FAST))
    monitor = deck.attach()
    wait_for(lambda: deck.jobs()[job]["state"] == "RUNNING", 60, "the monitor records the job running")
    (entry,) = deck.json("sync")
    assert (entry["acting"], entry["changes"], entry["submitted"]) == (False, [], []), entry
    assert entry["monitored_by"] and entry["monitored_by"].split(":")[1] == str(monitor.process.pid), entry
    said = deck.run("sync")
    assert said.returncode == 0 and f"monitored by {entry['monitored_by']}" in said.stdout, shown(said)
    (listed,) = deck.json("sessions")
    assert listed["lease_holder"] == entry["monitored_by"] and listed["last_cycle"], listed
