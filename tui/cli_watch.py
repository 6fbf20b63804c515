"""Polling commands: `sync` (once) and `attach --no-tui` (a loop printing each change)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import click

from monitor.controller import Controller
from monitor.errors import InputError
from monitor.model import Event
from monitor.states import IN_SCHEDULER, State
from store.session_store import SessionStore
from tui.cli_common import (
    emit_json,
    open_app,
    open_store,
    run_async,
    run_sync,
    with_db,
)
from tui.job_json import event_dict, iso
from tui.wiring import close_controller, open_controller


async def _session_names(store: SessionStore, session: str | None, active_only: bool) -> list[str]:
    if session is not None:
        await store.session_id(session)
        return [session]
    names = []
    for summary in await store.sessions():
        active = any(summary.counts.get(s) for s in (*IN_SCHEDULER, State.VALIDATING))
        if active or not active_only:
            names.append(summary.name)
    return names


@click.command()
@click.option("--session", "-s", help="Only this session (default: every session with active jobs).")
@click.option("--dry-run", is_flag=True, help="Ask the scheduler but store nothing; print what would change.")
@click.option("--no-validate", is_flag=True, help="Trust the scheduler's COMPLETED without checking outputs.")
@click.option("--json", "as_json", is_flag=True)
@with_db
@click.pass_context
@run_async
async def sync(
    ctx: click.Context, session: str | None, dry_run: bool, no_validate: bool, as_json: bool
) -> None:
    """Poll once: record what changed and validate jobs that completed."""
    store = await open_store(ctx)
    report: list[dict[str, Any]] = []
    failed = False
    try:
        for name in await _session_names(store, session, active_only=session is None):
            controller = await open_controller(store, name, validate=False if no_validate else None)
            try:
                outcome = await controller.poll(dry_run=dry_run)
            finally:
                await close_controller(controller)
            failed = failed or any(not h.ok for h in outcome.health.values())
            report.append(
                {
                    "session": name,
                    "dry_run": dry_run,
                    "validated": controller.settings.validate,
                    "changes": [event_dict(e) for e in outcome.events],
                    "warnings": outcome.warnings,
                    "clusters": {
                        c: {
                            "ok": h.ok,
                            "error": h.error,
                            "commands": list(h.commands),
                            "seconds": round(h.seconds, 3),
                        }
                        for c, h in outcome.health.items()
                    },
                }
            )
    finally:
        await store.close()
    if as_json:
        emit_json(report)
    else:
        for entry in report:
            note = "" if entry["validated"] else " (not validating outputs: trusting the scheduler)"
            click.echo(
                f"{entry['session']}: {len(entry['changes'])} change(s){' (dry run)' if dry_run else ''}{note}"
            )
            for change in entry["changes"]:
                click.echo(f"  {change['job']}: {change['message']}")
            for warning in entry["warnings"]:
                click.echo(f"  warning: {warning}", err=True)
    if failed:
        sys.exit(1)


@click.command()
@click.argument("session", required=False)
@click.option(
    "--no-tui", is_flag=True, help="Print each state change as it happens instead of opening the app."
)
@click.option("--all", "all_sessions", is_flag=True, help="Every session with active jobs.")
@click.option("--interval", type=click.FloatRange(min=0.2), default=None, help="Seconds between polls.")
@click.option("--exit-when-done", is_flag=True, help="Stop once no job is queued, running or validating.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event (JSON lines).")
@with_db
@click.pass_context
def attach(
    ctx: click.Context,
    session: str | None,
    no_tui: bool,
    all_sessions: bool,
    interval: float | None,
    exit_when_done: bool,
    as_json: bool,
) -> None:
    """Re-attach to a session: poll, record and show every change."""

    async def headless() -> list[str]:
        store = await open_store(ctx)
        try:
            names = await _attach_targets(store, session, all_sessions)
            if no_tui:
                await _watch(store, names, interval, exit_when_done, as_json)
            return names
        finally:
            await store.close()

    names = run_sync(headless())
    if not no_tui:
        open_app(ctx, names[0] if len(names) == 1 else None)


async def _attach_targets(store: SessionStore, session: str | None, all_sessions: bool) -> list[str]:
    if session is not None:
        await store.session_id(session)
        return [session]
    names = await _session_names(store, None, active_only=True)
    if all_sessions:
        return names
    every = [s.name for s in await store.sessions()]
    if len(every) == 1:
        return every
    if not every:
        raise InputError(f"no sessions in {store.path}; start one with `jobdeck submit MANIFEST`")
    raise InputError(f"several sessions ({', '.join(every)}): name one, or pass --all")


async def _watch(
    store: SessionStore, names: Sequence[str], interval: float | None, exit_when_done: bool, as_json: bool
) -> None:
    controllers = [await open_controller(store, n) for n in names]
    unhealthy: dict[tuple[str, str], str] = {}
    try:
        while True:
            active = 0
            for controller in controllers:
                outcome = await controller.poll()
                for event in outcome.events:
                    _print_event(event, as_json)
                for cluster, health in outcome.health.items():
                    _print_health_change(controller.session, cluster, health.error, unhealthy, as_json)
                remaining = await store.jobs(controller.session, states=[*IN_SCHEDULER, State.VALIDATING])
                active += len(remaining)
            if exit_when_done and active == 0:
                return
            await asyncio.sleep(interval or min(_poll_interval(c) for c in controllers))
    finally:
        for controller in controllers:
            await close_controller(controller)


def _poll_interval(controller: Controller) -> float:
    return controller.settings.poll_interval


def _print_event(event: Event, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(event_dict(event), ensure_ascii=False), nl=True)
    else:
        click.echo(f"{time.strftime('%H:%M:%S', time.localtime(event.at))}  {event.job}  {event.message}")
    sys.stdout.flush()


def _print_health_change(
    session: str, cluster: str, error: str | None, unhealthy: dict[tuple[str, str], str], as_json: bool
) -> None:
    key = (session, cluster)
    if error and unhealthy.get(key) != error:
        unhealthy[key] = error
        message = f"{session}/{cluster}: unreachable: {error}; no job changes state until it answers"
    elif not error and key in unhealthy:
        del unhealthy[key]
        message = f"{session}/{cluster}: reachable again"
    else:
        return
    if as_json:
        click.echo(json.dumps({"at": iso(time.time()), "kind": "health", "message": message}))
    else:
        click.echo(f"{time.strftime('%H:%M:%S')}  {message}", err=bool(error))
