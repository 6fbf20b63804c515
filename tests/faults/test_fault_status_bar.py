"""The app's status bar while the SSH link to a cluster is down: it says the cluster is unreachable
and since when the table is stale, keeps the table as it was, and says "ok" again once the link is
back (real app, Pilot, the loopback sshd stopped and the app's own connection dropped)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fault_daemons import SSH_HOST, SSHD, drop_connections, ssh_port, stopped
from fault_harness import Deck, record
from fault_sessions import far, register, submit_pending, wait_states

from tui.app import JobdeckApp
from tui.config import UserConfig
from tui.screens.jobs_screen import JobsScreen
from tui.widgets.status_bar import StatusBar

pytestmark = [pytest.mark.cluster, pytest.mark.ssh, pytest.mark.disruptive]


def status(app: JobdeckApp) -> str:
    if not isinstance(app.screen, JobsScreen):
        return ""
    content = app.screen.query_one(StatusBar).content
    return str(getattr(content, "plain", content))


async def until(condition: Callable[[], object], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {limit:g} s"
        await asyncio.sleep(0.1)


async def test_status_bar_says_the_link_is_down_and_when_it_is_back(
    both_deck: Deck, ssh_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deck = both_deck
    await register(deck, {"name": "bar", "poll_interval": 0.5}, far(deck), [
        {"name": "sleeper", "script": "behave.sh", "args": ["--sleep", "40"]},
    ])  # fmt: skip
    submit_pending(deck, "bar", "sleeper")
    wait_states(deck, "bar", {"sleeper": "RUNNING"}, 20)
    monkeypatch.setenv("JOBDECK_SSH_CONFIG", str(ssh_config))  # the app runs in this process
    app = JobdeckApp(deck.db, "bar", UserConfig(), polling=True)
    async with app.run_test(size=(200, 30)):
        await until(lambda: "far ok" in status(app), 20, "the first poll")
        with stopped(SSHD) as outage:
            drop_connections(os.getpid(), ssh_port(ssh_config))
            await until(lambda: "far unreachable" in status(app), 20, "the status bar to say so")
            down = status(app)
            shown = [(j.name, j.state.value) for j in app.screen.jobs]  # type: ignore[attr-defined]
        await until(lambda: "far ok" in status(app), 40, "the status bar to say the link is back")
    record("status bar while sshd is down", f"{outage.seconds:.1f} s down", faults=1)
    assert "table stale since" in down and f"ssh {SSH_HOST}" in down, down
    assert shown == [("sleeper", "RUNNING")], shown
