"""A monitor killed between writing a submission's intent and sending it leaves the intent open.
The next `attach` must settle it once it is old enough to judge, even when it was too young at
attach time; before, it was looked at only in the first cycle, so `attach --exit-when-done` never
returned and the job stayed SUBMITTING until yet another attach."""

from __future__ import annotations

import time

from fault_harness import Deck, record, shown
from fault_sessions import register

from store.session_store import SessionStore

GRACE = 2.0


async def test_an_intent_too_young_at_attach_is_settled_when_it_can_be(deck: Deck) -> None:
    await register(
        deck,
        {"name": "s", "poll_interval": 0.3, "intent_grace": GRACE},
        {"here": {"backend": "local"}},
        [{"name": "never-sent", "script": "behave.sh"}],
    )
    store = await SessionStore.open(deck.db)
    (job,) = await store.jobs("s")
    # what a monitor killed right after writing its intent leaves behind
    tag, now = "jobdeck:0badc0ffee00", time.time()
    await store.record_intent(await store.session_id("s"), job.name, "submit", tag, "here", [job], "-", now)
    await store.close()

    started = time.monotonic()
    attach = deck.run("attach", "s", "--no-tui", "--exit-when-done", "--interval", "0.3", timeout=30)
    took = time.monotonic() - started
    record("open intent settled by a later cycle", faults=1, lost=0, duplicates=0)
    assert attach.returncode == 0, shown(attach)
    (after,) = deck.json("list", "--session", "s")
    assert (after["state"], after["reason"], after["job_id"]) == ("PENDING", "not submitted", None)
    assert "never reached the scheduler" in attach.stdout and took < 20, (took, attach.stdout)
