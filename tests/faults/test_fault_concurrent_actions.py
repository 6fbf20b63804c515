"""Two jobdeck processes on one database acting on the same job at once (the app in one terminal,
the CLI in another): a restart must reach the scheduler once. Both read the job FAILED before
either wrote its intent; the second intent must then be refused, as the job is no longer FAILED."""

from __future__ import annotations

from fault_harness import Deck, record

from monitor.errors import JobdeckError
from monitor.restart import restart
from store.session_store import SessionStore
from tui.wiring import close_controller, open_controller


async def test_two_processes_restarting_one_job_submit_it_once(deck: Deck) -> None:
    manifest = deck.manifest(
        {"name": "race", "validate_grace": 0},
        {"here": {"backend": "local"}},
        [{"name": "bad", "script": "behave.sh", "args": ["--code", "3"]}],
    )
    deck.json("submit", str(manifest), "--no-tui")
    deck.sync_until("race", None, 30, "bad to fail")
    stores = [await SessionStore.open(deck.db), await SessionStore.open(deck.db)]
    controllers = [await open_controller(store, "race") for store in stores]
    try:
        seen = [(await store.jobs("race"))[0] for store in stores]  # both read FAILED
        errors = []
        for controller, job in zip(controllers, seen, strict=True):
            try:
                await restart(controller, [job])
            except JobdeckError as exc:
                errors.append(str(exc))
        known = await controllers[0].backend("here").find(["bad"], [], 0.0)  # what the "scheduler" ran
    finally:
        for controller, store in zip(controllers, stores, strict=True):
            await close_controller(controller)
            await store.close()
    runs = sorted(known.observations)
    record("two processes restart one job", faults=1, duplicates=len(runs) - 2)
    assert len(runs) == 2, (
        f"the first submission and one restart expected; the scheduler ran {runs}; {errors}"
    )
    assert (
        len(errors) == 1 and "changed by another jobdeck process since it was read (FAILED -> " in errors[0]
    ), errors
    store = await SessionStore.open(deck.db)
    try:
        (job,) = await store.jobs("race")
    finally:
        await store.close()
    assert [a.job_id for a in job.attempts] == runs, job.attempts  # both runs recorded, nothing more
