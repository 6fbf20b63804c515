"""Issue 14: when chain stages or restarts wait and no monitor has completed a cycle for three poll
intervals, `jobdeck sessions` (text and --json), the sessions screen and a read-only app's status
bar say so, with the command that moves them on; a cycle (here one `sync`) ends the notice. Local
backend: real processes on this machine, the real `jobdeck` command and the app under Pilot."""

from __future__ import annotations

import time

from textual.widgets import DataTable

from tui.app import JobdeckApp
from tui.screens.jobs_screen import JobsScreen
from tui.screens.sessions_screen import SessionsScreen
from tui.widgets.status_bar import StatusBar

FAST = {"poll_interval": 1, "validate_grace": 0}
CHAIN = [
    {"name": "first", "args": ["--write", "out/first.txt"], "outputs": ["out/first.txt"]},
    {
        "name": "second",
        "after": ["first"],
        "args": ["--write", "out/second.txt"],
        "outputs": ["out/second.txt"],
    },
]


async def test_waiting_stages_without_a_monitor_are_said_until_a_cycle_runs(local_deck) -> None:
    deck = local_deck
    deck.submit(deck.manifest(CHAIN, **FAST))  # no monitor attached: `second` waits for one
    time.sleep(3 * FAST["poll_interval"] + 1)

    (listed,) = deck.json("sessions")
    assert (listed["last_cycle"], listed["lease_holder"]) == (None, None), listed
    waiting = listed["unwatched"]
    assert (waiting["since"], waiting["stages"], waiting["restarts"]) == (None, 1, 0), listed
    text = deck.run("sessions").stdout
    assert f"{deck.session}: unwatched by any monitor yet: 1 stage wait; `jobdeck sync`" in text, text

    app = JobdeckApp(deck.db, None, polling=False, read_only=True)
    async with app.run_test(size=(200, 30)) as pilot:
        await pilot.pause(0.5)
        assert isinstance(app.screen, SessionsScreen)
        row = app.screen.query_one(DataTable).get_row(deck.session)
        assert "unwatched by any monitor yet: 1 stage wait" in str(row[4]), row
    app = JobdeckApp(deck.db, deck.session, read_only=True)
    async with app.run_test(size=(200, 30)) as pilot:
        await pilot.pause(1.0)
        assert isinstance(app.screen, JobsScreen)
        bar = str(app.screen.query_one(StatusBar).content)
        assert "unwatched by any monitor yet: 1 stage wait" in bar, bar

    deck.wait_for(
        lambda: deck.json("sync") and deck.jobs()["second"]["attempt"] == 1, 30, "sync submits second"
    )
    (listed,) = deck.json("sessions")
    assert listed["last_cycle"] and listed["last_cycle_by"] and listed["unwatched"] is None, listed
    assert "unwatched" not in deck.run("sessions").stdout
