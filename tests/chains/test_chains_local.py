"""Issue 7 on the local backend (real processes on this machine): a loop of 5 periods survives a
SIGKILLed monitor with every period run exactly once; a re-attach does not call a chain done while
one of its stages is ready to go; a stage the scheduler refuses is not sent again at every poll."""

from __future__ import annotations

import itertools
import time

FAST = {"poll_interval": 1, "validate_grace": 0}
LEASE_TTL = 30.0  # a SIGKILLed monitor keeps the session's lease this long: max(30 s, 3 x poll_interval)


def test_five_period_loop_runs_each_period_once_across_a_killed_monitor(local_deck):
    deck = local_deck
    stages = [f"loop-{period}" for period in range(5)]
    assert list(deck.submit(deck.manifest([deck.loop("loop", 5, sleep=1.5)], **FAST))) == [stages[0]]

    first = deck.attach()
    first.wait_line(
        lambda e: e.get("job", "").endswith(f"/{stages[2]}") and e["to"] == "RUNNING", 30, "period 2 runs"
    )
    first.kill()  # period 2 ends while nobody watches
    rows = deck.jobs()
    assert [rows[s]["state"] for s in stages] == ["SUCCEEDED", "SUCCEEDED", "RUNNING", "PENDING", "PENDING"]
    assert rows[stages[4]]["reason"] == f"waiting for {stages[3]}", rows[stages[4]]

    deck.attach_until_done(LEASE_TTL + 60)
    jobs = deck.jobs()
    assert [(jobs[s]["state"], jobs[s]["attempt"]) for s in stages] == [("SUCCEEDED", 1)] * 5, jobs
    assert deck.local_runs() == {s: [jobs[s]["job_id"]] for s in stages}  # one process per period
    for period, stage in enumerate(stages):
        assert deck.periods_logged(jobs[stage]) == [(period, 5)], (stage, deck.log(jobs[stage]))
    for before, after in itertools.pairwise(stages):
        assert jobs[after]["submit_time"] >= jobs[before]["end_time"], (jobs[before], jobs[after])


def test_reattach_does_not_exit_when_done_while_a_stage_is_ready(local_deck):
    """The monitor dies while `first` runs; `sync` records it SUCCEEDED (sync polls, it does not
    advance chains); the next `attach --exit-when-done` follows read-only until the dead monitor's
    lease expires. Nothing is queued or running then, yet `second` is ready to go: the chain is not
    done, and the attach must carry it to its end rather than exit."""
    deck = local_deck
    jobs = [
        {"name": "first", "args": ["--sleep", "2", "--write", "out/first.txt"], "outputs": ["out/first.txt"]},
        {
            "name": "second",
            "after": ["first"],
            "args": ["--write", "out/second.txt"],
            "outputs": ["out/second.txt"],
        },
    ]
    deck.submit(deck.manifest(jobs, **FAST))
    monitor = deck.attach()
    monitor.wait_line(
        lambda e: e.get("job", "").endswith("/first") and e["to"] == "RUNNING", 60, "first runs"
    )
    monitor.kill()
    deck.wait_for(lambda: deck.json("sync", "--session", deck.session) and deck.jobs()["first"]["state"] == "SUCCEEDED",
                  20, "sync records first SUCCEEDED")  # fmt: skip
    assert deck.jobs()["second"]["state"] == "PENDING"

    deck.attach_until_done(LEASE_TTL + 60)
    second = deck.jobs()["second"]
    assert (second["state"], second["attempt"]) == ("SUCCEEDED", 1), second


def test_stage_the_scheduler_refuses_is_not_sent_again_at_every_poll(local_deck):
    """A chain stage the scheduler refuses (here: its script does not exist) stays PENDING with the
    refusal as its reason. The monitor must not send it again at every poll, for ever (a submission
    and two events a second, and as many sbatch calls on a real cluster); `submit-pending` is how a
    person sends it again once it is fixed."""
    deck = local_deck
    jobs = [
        {"name": "first", "args": ["--write", "out/first.txt"], "outputs": ["out/first.txt"]},
        {"name": "second", "after": ["first"], "script": "missing.sh"},
    ]
    deck.submit(deck.manifest(jobs, **FAST))
    monitor = deck.attach()
    refused = lambda e: e.get("job", "").endswith("/second") and "refused" in e["message"]  # noqa: E731
    monitor.wait_line(refused, 60, "the scheduler refuses second")
    time.sleep(5 * FAST["poll_interval"])  # five more polls
    monitor.kill()

    second = deck.status("second")
    assert (second["state"], second["attempts"]) == ("PENDING", []), second
    sent = [e["message"] for e in second["events"] if e["message"].startswith("submit: intent")]
    assert len(sent) == 1, sent
