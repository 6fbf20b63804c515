"""Issue 7 on the real SLURM cluster: a stage is submitted only once every stage it comes after is
SUCCEEDED after validation, a PARTIAL upstream holds the stages after it until it is resumed, and a
20-period loop survives a SIGKILLed monitor with every period run exactly once.

Submissions are counted by SLURM's accounting: every name carries a random suffix, so the runs
`sacct --name` lists are exactly this test's.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

FAST = {"poll_interval": 1, "validate_grace": 0}
LEASE_TTL = 30.0  # a SIGKILLed monitor keeps the session's lease this long: max(30 s, 3 x poll_interval)


def held_events(status: dict) -> list[dict]:
    return [e for e in status["events"] if e["kind"] == "held"]


def test_partial_middle_holds_the_final_stage_until_it_is_resumed(slurm_deck, slurm):
    deck = slurm_deck
    prep, middle, final = deck.name("prep"), deck.name("middle"), deck.name("final")
    skip = ["--skip-once-if", "{task}", "1", f".{middle}-1-skipped"]  # task 1: exit 0 without output, once
    manifest = deck.manifest(
        [
            {"name": prep, "args": ["--sleep", "1", "--write", "out/prep.txt"], "outputs": ["out/prep.txt"]},
            {
                "name": middle, "after": [prep], "array": "0-2", "log": "logs/%x-%A_%a.out",
                "args": [*skip, "--write", "out/middle-{task}.txt"], "outputs": ["out/middle-{task}.txt"],
            },
            {"name": final, "after": [middle], "args": ["--write", "out/final.txt"], "outputs": ["out/final.txt"]},
        ],
        **FAST,
    )  # fmt: skip
    assert list(deck.submit(manifest)) == [prep]  # the stages after it wait

    first = deck.attach_until_done(90)  # ends once nothing is queued, running or validating
    rows = deck.rows()
    tasks = {r["task"]: r["state"] for r in rows if r["name"] == middle}
    assert tasks == {0: "SUCCEEDED", 1: "FAILED", 2: "SUCCEEDED"}, rows
    assert {r["array_state"] for r in rows if r["name"] == middle} == {"PARTIAL"}
    jobs = deck.jobs(rows)
    assert jobs[prep]["state"] == "SUCCEEDED", jobs
    held = jobs[final]
    assert (held["state"], held["job_id"], held["attempt"]) == ("PENDING", None, 0), held
    assert held["reason"] == f"held: {middle} PARTIAL (resume or restart it to release)", held

    status = deck.status(final)
    (event,) = held_events(status)
    assert event["message"] == held["reason"] and event["job"].endswith(f"/{final}"), event
    assert status["attempts"] == [], status
    assert [line for line in first.lines() if line.get("kind") == "held"], first.output()
    listed = deck.run("list", "--session", deck.session)
    (line,) = [text for text in listed.stdout.splitlines() if f" {final} " in text]
    assert "PENDING" in line and held["reason"] in line, listed.stdout
    said = deck.run("status", f"{deck.session}/{final}")
    assert said.stdout.splitlines()[0] == f"{deck.session}/{final}: PENDING ({held['reason']})", said.stdout
    assert slurm.plain_sacct(final) == "" and slurm.queued(final) == ""  # never submitted

    resumed = deck.json("resume", middle, "--session", deck.session)
    (plan,) = resumed["plans"]
    assert (plan["tasks"], plan["refusal"]) == ([1], None), resumed
    deck.attach_until_done(90)

    rows = deck.rows()
    jobs = deck.jobs(rows)
    done = jobs[final]
    assert (done["state"], done["attempt"], done["reason"]) == ("SUCCEEDED", 1, None), done
    tasks = {r["task"]: r["state"] for r in rows if r["name"] == middle}
    assert tasks == dict.fromkeys(range(3), "SUCCEEDED"), rows
    assert len(held_events(deck.status(final))) == 1  # said once, not every cycle
    runs = slurm.accounted([prep, middle, final])
    assert runs[final] == [done["job_id"]], runs  # submitted once, after the resume
    assert runs[prep] == [jobs[prep]["job_id"]], runs
    middle_ids = {run.split("_")[0] for run in runs[middle]}
    assert len(middle_ids) == 2 and len(runs[middle]) == 4, runs  # tasks 0-2, then task 1 alone
    assert (deck.workdir / "out" / "final.txt").exists()


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~90 s alone; the shared controller may be stopped by other tests meanwhile
def test_twenty_period_loop_runs_each_period_once_across_a_killed_monitor(slurm_deck, slurm):
    """The monitor is SIGKILLed while the sbatch of period 6 is on its way (its intent written,
    its outcome unknown); the orphaned sbatch delivers the job; the next monitor finds it by its tag
    and carries the loop to its end."""
    deck = slurm_deck
    loop = deck.name("loop")
    stages = [f"{loop}-{period}" for period in range(20)]
    release = deck.hold_sbatch(stages[6])
    manifest = deck.manifest([deck.loop(loop, 20, sleep=0.2)], **FAST)
    assert list(deck.submit(manifest)) == [stages[0]]

    first = deck.attach()
    rows = deck.wait_jobs(
        lambda rows: rows[stages[6]]["state"] == "SUBMITTING", 240, "period 6's intent is written"
    )
    assert [rows[s]["state"] for s in stages[:6]] == ["SUCCEEDED"] * 6, rows
    assert {rows[s]["state"] for s in stages[7:]} == {"PENDING"}, rows
    first.kill()
    assert slurm.runs([stages[6]]) == {stages[6]: []}  # killed while its sbatch waited
    release.touch()
    (orphan,) = slurm.accounted([stages[6]])[stages[6]]  # the orphaned sbatch delivered it

    second = deck.attach_until_done(LEASE_TTL + 400)
    followed = [line for line in second.lines() if line.get("kind") == "lease"]
    assert followed, second.output()  # it saw the dead monitor's lease (followed or took it over), then acted
    jobs = deck.jobs()
    assert [jobs[s]["state"] for s in stages] == ["SUCCEEDED"] * 20, {s: jobs[s]["state"] for s in stages}
    assert [jobs[s]["attempt"] for s in stages] == [1] * 20
    assert jobs[stages[6]]["job_id"] == orphan  # confirmed by its tag, not submitted again
    for before, after in itertools.pairwise(stages):  # each submitted after the previous ended
        assert jobs[after]["submit_time"] >= jobs[before]["end_time"], (jobs[before], jobs[after])

    runs = slurm.accounted(stages)
    assert {s: len(ids) for s, ids in runs.items()} == dict.fromkeys(stages, 1), runs
    assert [runs[s][0] for s in stages] == [jobs[s]["job_id"] for s in stages]
    for period, stage in enumerate(stages):
        assert deck.periods_logged(jobs[stage]) == [(period, 20)], (stage, deck.log(jobs[stage]))
        assert Path(deck.workdir / "out" / f"{period}.txt").exists()

    chain = deck.status(loop)
    assert (chain["chain"], chain["state"], chain["stages_total"]) == (loop, "SUCCEEDED", 20), chain
    labels = [(s["stage"], s["name"], s["state"]) for s in chain["stages"]]
    assert labels == [(f"stage {p + 1}/20", stages[p], "SUCCEEDED") for p in range(20)], labels
