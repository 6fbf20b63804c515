"""Outages of the real cluster's daemons while jobdeck polls and acts: slurmctld, slurmdbd, and the
sshd a cluster is reached through. None of them may change a job's state; jobdeck says what does not
answer, backs off with a cap, and carries on once it answers again.

Each outage is undone in a `finally` (fault_harness.stopped) and kept to seconds: other tests share
this cluster. A failing squeue retries for about 9 s before it gives up, so a slurmctld outage lasts
about as long. Every test that shows a drop changes nothing also shows that, with the daemon back,
the same commands do change the state: the test could fail."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fault_daemons import (
    SLURMCTLD,
    SLURMDBD,
    SSH_HOST,
    SSHD,
    drop_connections,
    ssh_port,
    ssh_sessions_of,
    stopped,
    until,
)
from fault_harness import Deck, job_rows, one_error_line, popen, record, shown
from fault_sessions import far, register, states, submit_pending, submitted_as_ghost, wait_states

pytestmark = [pytest.mark.cluster, pytest.mark.disruptive]


async def watched_sleeper_and_ghost(
    deck: Deck, session: str, clusters: dict[str, Any]
) -> subprocess.Popen[str]:
    """Session `session`: "sleeper" running for 40 s (it outlives the outages, even on a loaded
    machine) and "ghost" missing since a first poll (lost after 1 s once a source for finished jobs
    answers), and an `attach --no-tui --json` watching it until both settle."""
    config = {"name": session, "lost_grace": 1, "validate_grace": 0, "poll_interval": 0.5}
    jobs = [
        {"name": "sleeper", "script": "behave.sh", "args": ["--sleep", "40"]},
        {"name": "ghost", "script": "behave.sh"},
    ]
    await register(deck, config, clusters, jobs)
    await submitted_as_ghost(deck, session, "ghost")
    submit_pending(deck, session, "sleeper")
    wait_states(deck, session, {"sleeper": "RUNNING"}, 20)
    deck.run("sync", "--session", session)  # the ghost is now missing since this poll
    return popen(deck, "attach", session, "--no-tui", "--json", "--interval", "0.5", "--exit-when-done")


# -- slurmdbd ---------------------------------------------------------------------------------------


async def test_accounting_down_marks_nothing_lost_and_finished_jobs_are_read_from_the_controller(
    slurm_deck: Deck,
) -> None:
    deck = slurm_deck
    cluster = {"lab": {"backend": "slurm", "workdir": str(deck.workdir)}}
    session = {"name": "dbd", "lost_grace": 1, "validate_grace": 0, "poll_interval": 0.5}
    await register(
        deck,
        session,
        cluster,
        [{"name": "quick", "script": "behave.sh"}, {"name": "ghost", "script": "behave.sh"}],
    )
    await submitted_as_ghost(deck, "dbd", "ghost")
    submit_pending(deck, "dbd", "quick")
    time.sleep(3)  # quick has run and left the queue; the controller still holds it (MinJobAge)
    with stopped(SLURMDBD) as outage:
        during = [deck.json("sync", "--session", "dbd")]
        time.sleep(1.5)  # past the lost grace
        during.append(deck.json("sync", "--session", "dbd"))
    held = states(deck, "dbd")  # as the polls during the outage left them
    after = wait_states(deck, "dbd", {"ghost": "LOST"}, 10)
    record("slurmdbd stopped during polls", f"{outage.seconds:.1f} s down", faults=1, lost=0)
    assert held == {"quick": "SUCCEEDED", "ghost": "QUEUED"}, (held, during)
    assert not [c for report in during for c in report[0]["changes"] if c["job"].endswith("ghost")], during
    assert after["ghost"] == "LOST", after  # with accounting back, absence is evidence


# -- slurmctld --------------------------------------------------------------------------------------


async def test_controller_down_changes_nothing_says_so_and_attach_carries_on(slurm_deck: Deck) -> None:
    deck = slurm_deck
    attach = await watched_sleeper_and_ghost(
        deck, "ctld", {"lab": {"backend": "slurm", "workdir": str(deck.workdir)}}
    )
    try:
        time.sleep(3)  # attach is polling
        with stopped(SLURMCTLD) as outage:
            time.sleep(0.5)  # a poll that was under way when it stopped has ended
            before = job_rows(deck.db)
            # a dry run polls beside the monitor that holds the session (a sync would leave it to it)
            sync = deck.run("sync", "--session", "ctld", "--json", "--dry-run")
            during = job_rows(deck.db)
        out, _ = attach.communicate(timeout=120)  # sleeper ends (~40 s), ghost becomes LOST, attach exits
    finally:
        attach.kill()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    record("slurmctld stopped during polls", f"{outage.seconds:.1f} s down", faults=1, lost=0)
    assert sync.returncode == 1, shown(sync)
    (report,) = json.loads(sync.stdout)
    error = report["clusters"]["lab"]["error"]
    assert not report["changes"] and "Unable to contact slurm controller" in error and "squeue" in error, (
        report
    )
    assert during == before, "a job changed while the controller was down"
    health = [m["message"] for m in lines if m.get("kind") == "health"]
    assert any("lab: unreachable" in m and "no job changes state" in m for m in health), lines
    assert health[-1].endswith("lab: reachable again"), health
    final = states(deck, "ctld")
    assert final == {"sleeper": "SUCCEEDED", "ghost": "LOST"}, (final, lines)


# -- the SSH connection -----------------------------------------------------------------------------


@pytest.mark.ssh
async def test_ssh_drops_during_polls_change_nothing_and_reconnect_with_capped_backoff(
    both_deck: Deck, ssh_config: Path
) -> None:
    deck, port = both_deck, ssh_port(ssh_config)
    attach = await watched_sleeper_and_ghost(deck, "drop", far(deck))
    try:
        first = until(lambda: ssh_sessions_of(attach.pid, port), 20, "attach's SSH connection")
        drop_connections(attach.pid, port)  # the server's side of the session killed
        until(lambda: set(ssh_sessions_of(attach.pid, port)) - set(first), 20, "attach to reconnect")
        with stopped(SSHD) as outage:  # no new connections; attach's own is dropped too
            drop_connections(attach.pid, port)
            time.sleep(0.5)  # a poll that was under way when it dropped has ended
            before = job_rows(deck.db)
            time.sleep(4)  # a few polls that find nobody
            during = job_rows(deck.db)
        out, _ = attach.communicate(timeout=120)  # sleeper ends (~40 s), ghost becomes LOST, attach exits
    finally:
        attach.kill()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    health = [m["message"] for m in lines if m.get("kind") == "health"]
    waits = [float(w) for m in health for w in re.findall(r"retrying in ([0-9.]+) s", m)]
    record(
        "ssh session killed, then sshd stopped, during polls",
        f"{outage.seconds:.1f} s down",
        faults=2,
        lost=0,
    )
    assert during == before, "a job changed while the SSH connection was down"
    assert any(f"drop/far: unreachable: ssh {SSH_HOST}" in m for m in health), lines
    assert waits and max(waits) <= 60, health  # the runner's backoff, capped at 60 s
    assert health[-1] == "drop/far: reachable again", out
    assert states(deck, "drop") == {"sleeper": "SUCCEEDED", "ghost": "LOST"}, lines


@pytest.mark.ssh
async def test_actions_while_sshd_is_down_are_refused_and_change_no_state(both_deck: Deck) -> None:
    deck = both_deck
    session = {"name": "act", "validate_grace": 0, "poll_interval": 0.5}
    later = f"later-{uuid.uuid4().hex[:6]}"
    jobs = [
        {"name": "sleeper", "script": "behave.sh", "args": ["--sleep", "60"]},
        {"name": later, "script": "behave.sh"},
    ]
    await register(deck, session, far(deck), jobs)
    submit_pending(deck, "act", "sleeper")
    wait_states(deck, "act", {"sleeper": "RUNNING"}, 20)
    with stopped(SSHD) as outage:
        submit = deck.run("submit-pending", "--session", "act", later, "--json")
        cancel = deck.run("cancel", "--session", "act", "sleeper")
        sync = deck.run("sync", "--session", "act", "--json")
    held = states(deck, "act")
    queue = subprocess.run(["squeue", "-h", f"--name={later}"], capture_output=True, text=True, timeout=30)
    record(
        "sshd stopped during submit, cancel and sync",
        f"{outage.seconds:.1f} s down",
        faults=3,
        lost=0,
        duplicates=0,
    )
    assert submit.returncode == 1, shown(submit)
    (outcome,) = json.loads(submit.stdout)["submissions"]
    assert "not sent" in outcome["error"] or "unreachable" in outcome["error"], outcome
    assert cancel.returncode == 1 and f"ssh {SSH_HOST}" in one_error_line(cancel.stderr), shown(cancel)
    assert sync.returncode == 1 and not json.loads(sync.stdout)[0]["changes"], shown(sync)
    assert held == {"sleeper": "RUNNING", later: "PENDING"}, held
    assert queue.stdout.strip() == "", f"{later} reached the scheduler: {queue.stdout}"
    # with sshd back the same actions go through
    submit_pending(deck, "act", later)
    again = deck.run("cancel", "--session", "act", "sleeper")
    assert again.returncode == 0, shown(again)
    assert wait_states(deck, "act", {"sleeper": "CANCELLED", later: "SUCCEEDED"}, 30) == {
        "sleeper": "CANCELLED",
        later: "SUCCEEDED",
    }
