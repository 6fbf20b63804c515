"""Issues 7 and 14 on the local backend (real processes on this machine): a loop of 5 periods
survives a SIGKILLed monitor with every period run exactly once; a sync after a dead monitor moves
its chain on; `attach --all` watches sessions registered after it started; a stage the scheduler
refuses is not sent again at every poll."""

from __future__ import annotations

import itertools
import subprocess
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


def test_sync_after_a_dead_monitor_submits_the_stage_it_left_and_attach_carries_it_on(local_deck):
    """The monitor dies while `first` runs; a `sync` (a whole cycle, under the dead monitor's
    lease, taken over at once) records `first` SUCCEEDED and submits `second` once; the next
    `attach --exit-when-done` carries the chain to its end without submitting anything again."""
    deck = local_deck
    jobs = [
        {"name": "first", "args": ["--sleep", "8", "--write", "out/first.txt"], "outputs": ["out/first.txt"]},
        {
            "name": "second",
            "after": ["first"],
            "args": ["--sleep", "2", "--write", "out/second.txt"],
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
    assert deck.jobs()["second"]["attempt"] == 1, deck.jobs()["second"]  # submitted by that same sync

    deck.attach_until_done(LEASE_TTL + 60)
    second = deck.jobs()["second"]
    assert (second["state"], second["attempt"]) == ("SUCCEEDED", 1), second
    assert deck.local_runs()["second"] == [second["job_id"]]  # one process


def test_attach_all_watches_sessions_registered_after_it_started(local_deck):
    """The long-running monitor of the README (`jobdeck attach --all --no-tui` under systemd or
    tmux), started on an empty database: a session submitted later is watched, chain and all."""
    deck = local_deck
    monitor = deck.start("attach", "--all", "--no-tui", "--json", "--interval", "0.5")
    jobs = [
        {"name": "first", "args": ["--write", "out/first.txt"], "outputs": ["out/first.txt"]},
        {
            "name": "second",
            "after": ["first"],
            "args": ["--write", "out/second.txt"],
            "outputs": ["out/second.txt"],
        },
    ]
    deck.submit(deck.manifest(jobs, **FAST))
    monitor.wait_line(
        lambda e: e.get("job", "").endswith("/second") and e.get("to") == "SUCCEEDED", 60, "second succeeds"
    )
    assert [(r["state"], r["attempt"]) for r in deck.jobs().values()] == [("SUCCEEDED", 1)] * 2


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


def test_a_later_sync_submits_the_stage_as_registered_whatever_the_manifest_file_says_now(local_deck):
    """A stage's arguments, outputs and gating are fixed at registration: a sync run after the
    manifest file was rewritten (and from another folder) submits what a live monitor would have."""
    deck = local_deck
    manifest = deck.manifest([deck.loop("loop", 2, sleep=0)], **FAST)
    deck.submit(manifest)
    manifest.write_text(manifest.read_text().replace('"--period"', '"--sleep", "100", "--period"'))
    elsewhere = deck.folder / "elsewhere"
    elsewhere.mkdir()

    def synced() -> dict | None:
        subprocess.run(
            [*deck.command("sync")], cwd=elsewhere, env=deck.full_env, capture_output=True, timeout=60
        )
        jobs = deck.jobs()
        return jobs if jobs["loop-1"]["state"] == "SUCCEEDED" else None

    jobs = deck.wait_for(synced, 60, "sync alone runs both periods")
    assert deck.periods_logged(jobs["loop-1"]) == [(1, 2)], deck.log(jobs["loop-1"])
    assert "--sleep 100" not in deck.log(jobs["loop-1"])
    assert (deck.workdir / "out" / "1.txt").exists()
