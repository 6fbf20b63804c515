"""Issue 5 on the real cluster: a monitor (`jobdeck attach --no-tui`) is SIGKILLed mid-session, the
world changes while nobody watches, and the next attach tells the truth about every job without
submitting anything twice. Run on this machine and through SSH (fixtures in conftest.py).

Submissions are counted by SLURM itself: every name carries a random suffix, so the job IDs the
queue and accounting know for a name are exactly the submissions made under it. A killed monitor
keeps its lease until it expires (30 s), so the next attach first follows read-only: these tests
take that long at least.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from backends.registry import load_manifest
from monitor.expand import expand_manifest
from store.session_store import SessionStore

pytestmark = pytest.mark.cluster

LEASE_TTL = 30.0  # max(30 s, 3 x poll_interval) for the poll intervals used here
SESSION = {"poll_interval": 1, "validate_grace": 2}


def epoch(iso: str) -> float:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def running(*names: str):
    return lambda rows: all(rows[n]["state"] == "RUNNING" for n in names)


def kinds(status: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in status["events"]]


def status_with(deck, job: str, kind: str, limit: float) -> dict[str, Any]:
    """The job's `status --json` once its history holds an event of `kind`."""
    status: dict[str, Any] = {}

    def check() -> bool:
        nonlocal status
        status = deck.status(job)
        return kind in kinds(status)

    try:
        deck.wait_for(check, limit, f"a {kind!r} event in the history of {job}")
    except deck.NotInTime as exc:
        raise AssertionError(f"{exc}; attempts {status['attempts']}; events {status['events']}") from None
    return status


def submitted_then_offline(deck, jobs: list[dict[str, Any]]) -> dict[str, str]:
    """Submit `jobs`, attach until the monitor recorded them all running, SIGKILL it. Their IDs by name."""
    ids = {n: o["job_id"] for n, o in deck.submit(deck.manifest(jobs, **SESSION)).items()}
    monitor = deck.attach()
    deck.wait_jobs(running(*ids), 60, "the first monitor records the jobs running")
    monitor.kill()
    return ids


# -- 1. requeued while offline ------------------------------------------------------------------


@pytest.mark.slow
def test_job_requeued_while_offline_keeps_its_id_and_is_queued(deck, slurm):
    job = deck.name("requeued")
    job_id = submitted_then_offline(deck, [{"name": job, "args": ["--sleep", "300"]}])[job]

    slurm.run("scontrol", "requeue", job_id)
    held = deck.wait_for(
        lambda: (h := slurm.held(job_id)) and h["JobState"] == "PENDING" and h, 30, "requeued"
    )
    assert held["Restarts"] == "1", held

    deck.attach()
    rows = deck.wait_jobs(lambda r: r[job]["state"] != "RUNNING", LEASE_TTL + 30, "the requeue is seen")
    assert (rows[job]["state"], rows[job]["job_id"], rows[job]["attempt"]) == ("QUEUED", job_id, 1), rows[job]
    status = status_with(deck, job, "requeue", 10)
    (attempt,) = status["attempts"]
    assert attempt["requeues"] == 1, attempt
    (event,) = [e for e in status["events"] if e["kind"] == "requeue"]
    assert job_id in event["message"] and "same ID" in event["message"], event
    assert not {"FAILED", "LOST", "CANCELLED"} & {e["to"] for e in status["events"]}, status["events"]
    assert slurm.submissions(job) == [job_id]


# -- 2. cancelled and resubmitted by hand while offline -----------------------------------------


@pytest.mark.slow
def test_job_cancelled_and_resubmitted_by_hand_becomes_its_next_attempt(deck, slurm):
    job = deck.name("redone")
    first = submitted_then_offline(deck, [{"name": job, "args": ["--sleep", "300"]}])[job]

    slurm.run("scancel", first)
    by_hand = slurm.sbatch(deck.workdir, job, "--sleep", "2")

    deck.attach_until_done(LEASE_TTL + 90)
    row = deck.jobs()[job]
    assert (row["state"], row["job_id"], row["attempt"]) == ("SUCCEEDED", by_hand, 2), row
    status = deck.status(job)
    assert [(a["attempt"], a["kind"], a["job_id"], a["state"]) for a in status["attempts"]] == [
        (1, "submit", first, "CANCELLED"),
        (2, "found", by_hand, "SUCCEEDED"),
    ]
    (found,) = [e for e in status["events"] if e["kind"] == "found"]
    assert "found by name" in found["message"] and by_hand in found["message"], found
    assert (found["from"], found["attempt"]) == ("CANCELLED", 2), found
    assert "TIMEOUT" not in str(status), status
    assert slurm.submissions(job) == sorted([first, by_hand], key=int)  # one by jobdeck, one by hand


# -- 3. finished while offline ------------------------------------------------------------------


@pytest.mark.slow
def test_jobs_finished_while_offline_settle_from_accounting(deck, slurm):
    ok, bad = deck.name("ok"), deck.name("bad")
    jobs = [
        {"name": ok, "args": ["--sleep", "10", "--touch", "out/ok.txt"], "outputs": ["out/ok.txt"]},
        {"name": bad, "args": ["--sleep", "10", "--code", "5"]},
    ]
    ids = submitted_then_offline(deck, jobs)
    ended = {
        n: deck.wait_for(
            lambda i=i: (row := slurm.accounting(i)) and row["State"] not in ("PENDING", "RUNNING") and row,
            60,
            f"{n} ends",
        )
        for n, i in ids.items()
    }
    assert (ended[ok]["State"], ended[bad]["State"], ended[bad]["ExitCode"]) == ("COMPLETED", "FAILED", "5:0")

    deck.attach_until_done(LEASE_TTL + 60)
    rows = deck.jobs()
    assert (rows[ok]["state"], rows[ok]["exit_code"], rows[ok]["outputs_verified"]) == ("SUCCEEDED", 0, 1)
    assert (rows[bad]["state"], rows[bad]["exit_code"], rows[bad]["job_id"]) == ("FAILED", 5, ids[bad])
    settled = {}
    for name in (ok, bad):
        assert epoch(rows[name]["end_time"]) == float(ended[name]["End"]), (rows[name], ended[name])
        (settled[name],) = [e for e in deck.status(name)["events"] if e["from"] == "RUNNING"]
        assert f"[sacct {ids[name]}]" in settled[name]["message"], settled[name]
    assert "exit code 5" in settled[bad]["message"], settled[bad]
    assert {n: slurm.submissions(n) for n in ids} == {n: [i] for n, i in ids.items()}


# -- 4. purged from the controller while offline ------------------------------------------------


@pytest.mark.slow
def test_job_purged_from_the_controller_settles_from_accounting(both_deck, slurm):
    """MinJobAge is 60 s on the test cluster: one wait serves both transports (one cluster each)."""
    deck = both_deck
    names = {cluster: deck.name(f"purged-{cluster}") for cluster in deck.transports}
    jobs = [{"name": n, "cluster": c, "args": ["--sleep", "10", "--code", "6"]} for c, n in names.items()]
    ids = submitted_then_offline(deck, jobs)
    for name, job_id in ids.items():
        deck.wait_for(
            lambda i=job_id: slurm.held(i) is None, 150, f"slurmctld purges {name} ({job_id})", every=2
        )

    deck.attach_until_done(60)
    rows = deck.jobs()
    for name, job_id in ids.items():
        row = rows[name]
        assert (row["state"], row["exit_code"], row["job_id"], row["attempt"]) == ("FAILED", 6, job_id, 1), (
            row
        )
        assert epoch(row["end_time"]) == float(slurm.accounting(job_id)["End"]), row
        events = deck.status(name)["events"]
        assert "LOST" not in {e["to"] for e in events}, events
        assert any(f"[sacct {job_id}]" in e["message"] for e in events if e["to"] == "FAILED"), events
        assert slurm.submissions(name) == [job_id]


# -- 5. a submission whose outcome was never recorded -------------------------------------------


def _kill_submit_while_sbatch_hangs(deck, slurm, manifest: Path, job: str, kill_sbatch: bool):
    """`jobdeck submit` with the controller down: wait until its intent is written and its sbatch
    is waiting for the controller, SIGKILL jobdeck's whole process group (and, if asked, its sbatch,
    which LocalRunner starts in a session of its own), start the controller again. Returns the
    killed jobdeck and its sbatch's pid."""
    with slurm.controller_down():
        submit = deck.start("submit", str(manifest), "--no-tui")
        deck.wait_jobs(
            lambda rows: rows.get(job, {}).get("state") == "SUBMITTING", 20, "the intent is written"
        )
        (sbatch,) = deck.wait_for(
            lambda: submit.children("sbatch"), 10, "jobdeck's sbatch starts", every=0.05
        )
        os.killpg(submit.pid, signal.SIGKILL)
        submit.process.wait(timeout=10)
        if kill_sbatch:
            os.kill(sbatch, signal.SIGKILL)
            deck.wait_for(lambda: not submit.running(sbatch), 10, "sbatch dies", every=0.05)
        assert deck.jobs()[job]["state"] == "SUBMITTING"
    return submit, sbatch


@pytest.mark.slow
@pytest.mark.disruptive  # stops slurmctld while its sbatch waits
def test_intent_that_never_reached_the_scheduler_is_offered_again(local_deck, slurm):
    deck = local_deck
    job = deck.name("unsent")
    manifest = deck.manifest([{"name": job, "args": ["--sleep", "1"]}], **SESSION, intent_grace=5)
    _kill_submit_while_sbatch_hangs(deck, slurm, manifest, job, kill_sbatch=True)
    written = epoch(next(e["at"] for e in deck.status(job)["events"] if e["to"] == "SUBMITTING"))
    deck.wait_for(lambda: time.time() > written + 6, 10, "the intent grace passes")

    deck.attach_until_done(30)
    row = deck.jobs()[job]
    assert (row["state"], row["reason"], row["attempt"]) == ("PENDING", "not submitted", 0), row
    last = deck.status(job)["events"][-1]
    assert (last["kind"], last["from"], last["to"]) == ("not-sent", "SUBMITTING", "PENDING"), last
    assert "never reached the scheduler" in last["message"], last
    assert slurm.submissions(job) == []

    (outcome,) = deck.submit_pending()
    assert outcome["error"] is None and outcome["job_id"], outcome
    assert deck.submit_pending() == []
    deck.attach_until_done(60)
    row = deck.jobs()[job]
    assert (row["state"], row["job_id"], row["attempt"]) == ("SUCCEEDED", outcome["job_id"], 1), row
    assert slurm.submissions(job) == [outcome["job_id"]]


@pytest.mark.disruptive  # stops slurmctld while its sbatch waits
def test_sbatch_that_outlived_a_killed_jobdeck_is_confirmed_by_its_tag(local_deck, slurm):
    """The opposite case, for real: jobdeck dies while sbatch waits for the controller; the
    orphaned sbatch delivers the job once the controller is back; the next attach finds it by tag."""
    deck = local_deck
    job = deck.name("orphan")
    manifest = deck.manifest([{"name": job, "args": ["--sleep", "1"]}], **SESSION, intent_grace=5)
    submit, sbatch = _kill_submit_while_sbatch_hangs(deck, slurm, manifest, job, kill_sbatch=False)
    deck.wait_for(lambda: not submit.running(sbatch), 30, "the orphaned sbatch finishes")
    (job_id,) = deck.wait_for(lambda: slurm.submissions(job), 30, "the orphaned sbatch's job reaches SLURM")

    deck.attach_until_done(60)
    row = deck.jobs()[job]
    assert (row["state"], row["job_id"], row["attempt"]) == ("SUCCEEDED", job_id, 1), row
    assert slurm.submissions(job) == [job_id]


async def _write_intent(db: Path, manifest: Path, job: str, tag: str) -> None:
    """What `jobdeck submit` writes before it runs sbatch: the session, its jobs, the intent."""
    loaded = load_manifest(manifest)
    store = await SessionStore.open(db)
    try:
        now = time.time()
        session_id = await store.ensure_session(loaded.session.name, str(loaded.path), loaded.to_dict(), now)
        await store.add_jobs(session_id, [(d.name, d.task, d.spec) for d in expand_manifest(loaded)], now)
        (chosen,) = [j for j in await store.jobs(loaded.session.name) if j.name == job]
        await store.record_intent(session_id, job, "submit", tag, chosen.cluster, [chosen], "sbatch", now)
    finally:
        await store.close()


@pytest.mark.parametrize("where", ["queue", "accounting"])
def test_intent_submitted_but_never_confirmed_is_found_by_its_tag(local_deck, slurm, where):
    """Found in the queue while the job runs, or in accounting (which shows the comment once the
    job ended) after it finished."""
    deck = local_deck
    job = deck.name("unconfirmed")
    manifest = deck.manifest([{"name": job, "args": ["--sleep", "1"]}], **SESSION, intent_grace=5)
    tag = f"jobdeck:{uuid.uuid4().hex[:12]}"
    asyncio.run(_write_intent(deck.db, manifest, job, tag))
    assert deck.jobs()[job]["state"] == "SUBMITTING"
    job_id = slurm.sbatch(deck.workdir, job, "--sleep", "10" if where == "queue" else "1", comment=tag)
    if where == "accounting":
        deck.wait_for(lambda: slurm.accounting(job_id).get("Comment") == tag and slurm.accounting(job_id)["End"]
                      .isdigit(), 30, "accounting shows the ended job with its tag")  # fmt: skip

    deck.attach_until_done(60)
    row = deck.jobs()[job]
    assert (row["state"], row["job_id"], row["attempt"]) == ("SUCCEEDED", job_id, 1), row
    (attempt,) = deck.status(job)["attempts"]
    assert (attempt["kind"], attempt["job_id"]) == ("submit", job_id), attempt
    assert slurm.submissions(job) == [job_id]


def test_intent_too_young_to_judge_at_attach_is_judged_once_its_grace_passed(local_deck, slurm):
    """The first cycle cannot settle an intent no job carries yet while it is younger than
    intent_grace (it may still be on its way); the monitor must judge it again later rather than
    leave the job SUBMITTING for as long as it runs."""
    deck = local_deck
    job = deck.name("young")
    manifest = deck.manifest([{"name": job, "args": ["--sleep", "1"]}], **SESSION, intent_grace=5)
    asyncio.run(_write_intent(deck.db, manifest, job, f"jobdeck:{uuid.uuid4().hex[:12]}"))

    deck.attach_until_done(30)  # attached at once: the intent is seconds old
    row = deck.jobs()[job]
    assert (row["state"], row["reason"], row["attempt"]) == ("PENDING", "not submitted", 0), row
    assert slurm.submissions(job) == []


# -- 6. the controller stops answering during an attach -----------------------------------------


def _snapshot(rows):
    return {n: (r["state"], r["job_id"], r["attempt"], r["reason"], r["exit_code"]) for n, r in rows.items()}


@pytest.mark.slow
@pytest.mark.disruptive  # stops slurmctld for seconds
def test_unreachable_controller_changes_no_job_and_the_next_cycles_recover(deck, slurm):
    through, during = deck.name("through"), deck.name("during")
    jobs = [{"name": through, "args": ["--sleep", "25"]}, {"name": during, "args": ["--sleep", "15"]}]
    deck.submit(deck.manifest(jobs, **SESSION))
    monitor = deck.attach("--exit-when-done")
    before = _snapshot(deck.wait_jobs(running(through, during), 60, "both jobs recorded running"))
    with slurm.controller_down():
        line = monitor.wait_line(
            lambda m: m.get("kind") == "health" and "unreachable" in m["message"], 45, "an unreachable line"
        )
        assert "no job changes state until it answers" in line["message"], line
        assert _snapshot(deck.jobs()) == before
    monitor.wait_line(lambda m: "reachable again" in m.get("message", ""), 30, "a reachable-again line")
    assert monitor.finish(90) == 0, monitor.output()
    rows = deck.jobs()
    assert {n: r["state"] for n, r in rows.items()} == {through: "SUCCEEDED", during: "SUCCEEDED"}
    for name in (through, during):
        assert len(slurm.submissions(name)) == 1


# -- 7. two monitors on one session -------------------------------------------------------------


@pytest.mark.slow
def test_one_of_two_monitors_acts_and_the_other_takes_over_when_it_dies(local_deck, slurm):
    deck = local_deck
    early, late = deck.name("early"), deck.name("late")
    jobs = [{"name": early, "args": ["--sleep", "2"]}, {"name": late, "args": ["--sleep", "20"]}]
    deck.submit(deck.manifest(jobs, **SESSION))
    first = deck.attach("--exit-when-done")
    deck.wait_jobs(running(late), 30, "the first monitor records the late job running")
    second = deck.attach("--exit-when-done")
    line = second.wait_line(lambda m: m.get("kind") == "lease", 20, "the second monitor's read-only line")
    assert "read-only: monitored by" in line["message"] and f":{first.pid}:" in line["message"], line
    deck.wait_jobs(lambda rows: rows[early]["state"] == "SUCCEEDED", 30, "the acting monitor settles early")
    assert any(m.get("kind") == "state" for m in first.lines()), first.output()
    assert not [m for m in first.lines() if m.get("kind") == "lease"], first.output()

    assert deck.jobs()[late]["state"] == "RUNNING"
    first.kill()
    killed = time.monotonic()
    deck.wait_jobs(lambda rows: rows[late]["state"] == "SUCCEEDED", LEASE_TTL + 20, "the second takes over")
    assert time.monotonic() - killed < LEASE_TTL + 5
    assert second.finish(30) == 0, second.output()
    assert any(str(m.get("job")).endswith(late) and m.get("to") == "SUCCEEDED" for m in second.lines())
    assert [len(slurm.submissions(n)) for n in (early, late)] == [1, 1]
