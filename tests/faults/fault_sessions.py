"""Sessions set up for the fault tests the way a run of jobdeck leaves them: registered with nothing
sent, submitted under a job ID no scheduler knows, or submitted for real; and waiting on states."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from fault_daemons import SSH_HOST
from fault_harness import Deck, shown

from backends.registry import load_manifest
from monitor.expand import expand_manifest
from monitor.model import SubmitResult
from store.session_store import SessionStore

GHOST_ID = "99999999"  # above SLURM's largest job ID: no source will ever know it


async def register(
    deck: Deck, session: dict[str, Any], clusters: dict[str, Any], jobs: list[dict[str, Any]]
) -> Path:
    """The session in the store with its jobs PENDING (nothing submitted), as `submit` would leave it
    before sending anything."""
    manifest = deck.manifest(session, clusters, jobs)
    loaded = load_manifest(manifest)
    store = await SessionStore.open(deck.db)
    try:
        now = time.time()
        session_id = await store.ensure_session(session["name"], str(manifest), loaded.to_dict(), now)
        await store.add_jobs(session_id, [(d.name, d.task, d.spec) for d in expand_manifest(loaded)], now)
    finally:
        await store.close()
    return manifest


async def submitted_as_ghost(deck: Deck, session: str, name: str) -> None:
    """`name` recorded as submitted under a job ID no source knows: only LOST can become of it."""
    store = await SessionStore.open(deck.db)
    try:
        (job,) = [j for j in await store.jobs(session) if j.name == name]
        session_id, now = await store.session_id(session), time.time()
        tag = f"jobdeck:{uuid.uuid4().hex[:12]}"
        sub = await store.record_intent(session_id, name, "submit", tag, job.cluster, [job], "-", now)
        result = SubmitResult(GHOST_ID, {None: GHOST_ID}, "(a job no scheduler knows)")
        await store.confirm_submission(sub, result, [(job, None, None)], now)
    finally:
        await store.close()


def states(deck: Deck, session: str) -> dict[str, str]:
    return {j["name"]: j["state"] for j in deck.json("list", "--session", session)}


def submit_pending(deck: Deck, session: str, *names: str) -> None:
    result = deck.run("submit-pending", "--session", session, *names, "--json")
    assert result.returncode == 0, shown(result)
    deck.submitted += [s["job_id"] for s in json.loads(result.stdout)["submissions"] if s["job_id"]]


def wait_states(deck: Deck, session: str, wanted: dict[str, str], limit: float) -> dict[str, str]:
    deadline = time.monotonic() + limit
    while True:
        deck.run("sync", "--session", session)
        now = states(deck, session)
        if all(now.get(k) == v for k, v in wanted.items()) or time.monotonic() > deadline:
            return now
        time.sleep(0.5)


def far(deck: Deck) -> dict[str, Any]:
    return {"far": {"backend": "slurm", "host": SSH_HOST, "workdir": str(deck.workdir)}}
