"""Polling commands: `sync` (once) and `attach --no-tui` (a loop printing each change)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import click

from monitor.chains import due_stages
from monitor.controller import WATCHED, ClusterHealth
from monitor.errors import InputError
from monitor.model import Event, SessionSummary
from monitor.states import State
from monitor.supervisor import CycleOutcome, Supervisor
from monitor.unwatched import waiting_work
from store.session_store import SessionStore
from tui.cli_common import (
    emit_json,
    is_read_only,
    open_app,
    open_store,
    run_async,
    run_sync,
    with_db,
)
from tui.cycle_report import cycle_report
from tui.job_json import event_dict, iso
from tui.submit_report import submission_dict
from tui.wiring import close_controller, open_controller


async def _session_names(store: SessionStore, session: str | None, active_only: bool) -> list[str]:
    if session is not None:
        await store.session_id(session)
        return [session]
    names = []
    for summary in await store.sessions():
        if not active_only or await _work_left(store, summary):
            names.append(summary.name)
    return names


async def _work_left(store: SessionStore, summary: SessionSummary) -> bool:
    """Jobs the scheduler still holds or that wait for validation, chain stages still to submit,
    failed jobs a restart policy will restart: what a monitor's cycle moves on."""
    if any(summary.counts.get(s) for s in WATCHED):
        return True
    if not (summary.counts.get(State.PENDING) or summary.counts.get(State.FAILED)):
        return False
    return any(waiting_work(await store.jobs(summary.name)))


@click.command()
@click.option("--session", "-s", help="Only this session (default: every session with work left).")
@click.option(
    "--dry-run", is_flag=True, help="Ask the scheduler but store and submit nothing; print what would happen."
)
@click.option("--no-validate", is_flag=True, help="Trust the scheduler's COMPLETED without checking outputs.")
@click.option("--json", "as_json", is_flag=True)
@with_db
@click.pass_context
@run_async
async def sync(
    ctx: click.Context, session: str | None, dry_run: bool, no_validate: bool, as_json: bool
) -> None:
    """Run one whole monitor cycle: poll, validate what completed, apply restart policies, submit
    chain stages whose upstream succeeded. Made for cron: with no session, every session with work
    left. Under the session's lease: when a live monitor holds it, sync says who and does nothing.
    In read-only mode this is a dry run."""
    dry_run = dry_run or is_read_only(ctx)
    store = await open_store(ctx)
    report: list[dict[str, Any]] = []
    try:
        for name in await _session_names(store, session, active_only=session is None):
            controller = await open_controller(store, name, validate=False if no_validate else None)
            supervisor = Supervisor(controller, reattach=False)
            try:
                outcome = await (supervisor.plan() if dry_run else supervisor.cycle())
            finally:
                if not dry_run:
                    await supervisor.release()
                await close_controller(controller)
            report.append(_sync_entry(name, outcome, dry_run, controller.settings.validate))
    finally:
        await store.close()
    if as_json:
        emit_json(report)
    else:
        for entry in report:
            _print_sync_entry(entry)
    if any(not cluster["ok"] for entry in report for cluster in entry["clusters"].values()):
        sys.exit(1)


def _clusters_dict(health: Mapping[str, ClusterHealth]) -> dict[str, dict[str, Any]]:
    """Each cluster's answer to a poll: the status bar's figures (commands run, seconds taken)."""
    return {
        c: {"ok": h.ok, "error": h.error, "commands": list(h.commands), "seconds": round(h.seconds, 3)}
        for c, h in health.items()
    }


def _sync_entry(session: str, outcome: CycleOutcome, dry_run: bool, validated: bool) -> dict[str, Any]:
    poll = outcome.poll
    report = cycle_report(outcome)
    warnings = [*report.poll_warnings, *report.warnings, *(f"{job}: {m}" for job, m in report.job_warnings)]
    return {
        "session": session,
        "dry_run": dry_run,
        "acting": outcome.acting,
        "monitored_by": None if outcome.acting else outcome.lease.holder,
        "monitored_since": None if outcome.acting else iso(outcome.lease.acquired_at),
        "validated": validated,
        "changes": [event_dict(e) for e in (poll.events if poll else [])],
        "submitted": [submission_dict(o) for o in outcome.submitted],
        "actions": list(report.restarts),
        "warnings": warnings,
        "clusters": _clusters_dict(poll.health) if poll else {},
    }


def _print_sync_entry(entry: dict[str, Any]) -> None:
    if not entry["acting"]:
        click.echo(
            f"{entry['session']}: monitored by {entry['monitored_by']} since {entry['monitored_since']}; "
            "nothing done here"
        )
        return
    note = "" if entry["validated"] else " (not validating outputs: trusting the scheduler)"
    dry = " (dry run)" if entry["dry_run"] else ""
    click.echo(f"{entry['session']}: {len(entry['changes'])} change(s){dry}{note}")
    for change in entry["changes"]:
        click.echo(f"  {change['job']}: {change['message']}")
    for action in entry["actions"]:
        click.echo(f"  {action}")
    for submitted in entry["submitted"]:
        if submitted["dry_run"]:
            click.echo(f"  would run: {submitted['command']}")
    for warning in entry["warnings"]:
        click.echo(f"  warning: {warning}", err=True)


@click.command()
@click.argument("session", required=False)
@click.option(
    "--no-tui", is_flag=True, help="Print each state change as it happens instead of opening the app."
)
@click.option("--all", "all_sessions", is_flag=True, help="Every session with active jobs.")
@click.option("--include-completed", is_flag=True, help="With --all, also sessions whose jobs all settled.")
@click.option("--interval", type=click.FloatRange(min=0.2), default=None, help="Seconds between polls.")
@click.option("--exit-when-done", is_flag=True, help="Stop once no job is queued, running or validating.")
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per event and per poll cycle (JSON lines)."
)
@with_db
@click.pass_context
def attach(
    ctx: click.Context,
    session: str | None,
    no_tui: bool,
    all_sessions: bool,
    include_completed: bool,
    interval: float | None,
    exit_when_done: bool,
    as_json: bool,
) -> None:
    """Re-attach to a session: settle what happened while nobody watched, then poll, record and
    show every change. Only one monitor acts on a session; another one follows read-only."""

    async def headless() -> list[str]:
        store = await open_store(ctx)
        try:
            names = await _attach_targets(store, session, all_sessions, include_completed)
            if no_tui:
                watch = Watch(store, as_json)
                if is_read_only(ctx):
                    await watch.follow(names, interval, exit_when_done)
                else:
                    # --all keeps watching sessions registered after it started (a service runs for days)
                    later = (
                        (lambda: _session_names(store, None, not include_completed)) if all_sessions else None
                    )
                    await watch.run(names, interval, exit_when_done, later)
            return names
        finally:
            await store.close()

    names = run_sync(headless())
    if not no_tui:
        open_app(ctx, names[0] if len(names) == 1 else None)


async def _attach_targets(
    store: SessionStore, session: str | None, all_sessions: bool, include_completed: bool
) -> list[str]:
    if session is not None:
        await store.session_id(session)
        return [session]
    if all_sessions:
        return await _session_names(store, None, active_only=not include_completed)
    every = [s.name for s in await store.sessions()]
    if len(every) == 1:
        return every
    if not every:
        raise InputError(f"no sessions in {store.path}; start one with `jobdeck submit MANIFEST`")
    raise InputError(f"several sessions ({', '.join(every)}): name one, or pass --all")


class Watch:
    """The headless attach loop: every change printed once, whoever recorded it."""

    def __init__(self, store: SessionStore, as_json: bool) -> None:
        self.store = store
        self.as_json = as_json
        self.said: set[str] = set()

    def say(self, kind: str, message: str, err: bool = False) -> None:
        """Print a notice once until it changes."""
        if message in self.said:
            return
        self.said.add(message)
        if self.as_json:
            click.echo(
                json.dumps({"at": iso(time.time()), "kind": kind, "message": message}, ensure_ascii=False)
            )
        else:
            click.echo(f"{time.strftime('%H:%M:%S')}  {message}", err=err)
        sys.stdout.flush()

    async def run(
        self,
        names: Sequence[str],
        interval: float | None,
        exit_when_done: bool,
        later: Callable[[], Awaitable[list[str]]] | None = None,
    ) -> None:
        """Cycle every session until stopped (or done); `later` names the sessions to watch at each
        round, so one registered meanwhile is watched too."""
        supervisors: dict[str, Supervisor] = {}
        cursors: dict[str, int] = {}
        try:
            while True:
                for name in [*names, *(await later() if later else [])]:
                    if name not in supervisors:
                        supervisors[name] = Supervisor(
                            await open_controller(self.store, name), interval=interval
                        )
                        cursors[name] = await self._last_event(name)
                delays = []
                for name, supervisor in supervisors.items():
                    delays.append(supervisor.next_delay(await self._cycle(supervisor)))
                    await self._print_new(name, cursors)
                if exit_when_done and not await self._active(list(supervisors)):
                    return
                await asyncio.sleep(min(delays, default=interval or 5.0))
        finally:
            for supervisor in supervisors.values():
                await supervisor.release()
                await close_controller(supervisor.controller)

    async def follow(self, names: Sequence[str], interval: float | None, exit_when_done: bool) -> None:
        """Read-only mode: print what the monitor holding each session records; poll nothing, so
        no restart policy or chain stage can submit anything from here."""
        self.say("lease", f"read-only: following {', '.join(names)} (nothing is polled or sent from here)")
        cursors = {name: await self._last_event(name) for name in names}
        while True:
            for name in names:
                await self._print_new(name, cursors)
            if exit_when_done and not await self._active(names):
                return
            await asyncio.sleep(interval or 5.0)

    async def _active(self, names: Sequence[str]) -> int:
        """Jobs still queued, running or validating, and chain stages a monitor is about to submit."""
        count = 0
        for name in names:
            jobs = await self.store.jobs(name)
            count += sum(1 for j in jobs if j.state in WATCHED) + len(due_stages(jobs))
        return count

    async def _print_new(self, session: str, cursors: dict[str, int]) -> None:
        """Every event recorded since the last one printed, whoever recorded it."""
        for event_id, event in await self.store.events_after(session, cursors[session]):
            cursors[session] = event_id
            _print_event(event, self.as_json)

    async def _last_event(self, session: str) -> int:
        events = await self.store.events_after(session, 0)
        return events[-1][0] if events else 0

    async def _cycle(self, supervisor: Supervisor) -> CycleOutcome:
        outcome = await supervisor.cycle()
        self._show(supervisor.controller.session, outcome)
        return outcome

    def _show(self, session: str, outcome: CycleOutcome) -> None:
        report = cycle_report(outcome)
        if report.lease:
            self.say("lease", f"{session}: {report.lease}")
            return
        if report.took_over:
            self.say("lease", f"{session}: {report.took_over}")
        for line in report.warnings + report.restarts:
            self.say("warning", f"{session}: {line}", err=line in report.warnings)
        if outcome.poll is None:
            return
        poll = outcome.poll
        if self.as_json:
            cycle = {"at": iso(time.time()), "kind": "cycle", "session": session}
            click.echo(json.dumps({**cycle, "clusters": _clusters_dict(poll.health)}, ensure_ascii=False))
        for line in report.poll_warnings:  # an unreachable cluster's is said below, once
            if line.partition(": ")[0] not in report.unreachable:
                self.say("warning", f"{session}: {line}", err=True)
        for cluster in poll.health:
            if cluster in report.unreachable:
                self.say(
                    "health",
                    f"{session}/{cluster}: unreachable: {report.unreachable[cluster]}; "
                    "no job changes state until it answers",
                    err=True,
                )
            elif any(m.startswith(f"{session}/{cluster}: unreachable") for m in self.said):
                # forget this cluster's notices, "reachable again" included: the next outage says both anew
                self.said = {m for m in self.said if not m.startswith(f"{session}/{cluster}: ")}
                self.say("health", f"{session}/{cluster}: reachable again")
        for job, message in report.job_warnings:
            self.say("warning", f"{job}: {message}")


def _print_event(event: Event, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(event_dict(event), ensure_ascii=False), nl=True)
    else:
        click.echo(f"{time.strftime('%H:%M:%S', time.localtime(event.at))}  {event.job}  {event.message}")
    sys.stdout.flush()
