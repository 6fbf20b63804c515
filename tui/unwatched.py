"""Whether a stored session's chain stages and restarts wait for a monitor, for `jobdeck sessions`,
the sessions screen and a read-only app's status bar (monitor.unwatched decides)."""

from __future__ import annotations

import time

from monitor.model import SessionSummary
from monitor.states import State
from monitor.unwatched import Unwatched, unwatched
from store.session_store import SessionStore


async def session_unwatched(store: SessionStore, summary: SessionSummary) -> Unwatched | None:
    """None while a monitor holds the lease, or when nothing waits (read without loading jobs then)."""
    if summary.lease is not None or not (
        summary.counts.get(State.PENDING) or summary.counts.get(State.FAILED)
    ):
        return None
    from monitor.manifest import SessionConfig  # pydantic, only when work waits: read commands start fast

    _, manifest = await store.session_manifest(summary.name)
    interval = SessionConfig.model_validate(manifest["session"]).poll_interval
    return unwatched(await store.jobs(summary.name), summary.last_cycle_at, time.time(), interval)


async def unwatched_note(store: SessionStore, session: str) -> str:
    """The status bar's words for one session: what waits, and the command that moves it on."""
    summary = next((s for s in await store.sessions() if s.name == session), None)
    found = await session_unwatched(store, summary) if summary is not None else None
    return f"{found.summary()}: {found.advice(session)}" if found else ""
