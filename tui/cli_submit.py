"""`jobdeck submit`: register a manifest's jobs and submit those never submitted."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import click

from monitor.arrays import format_indices
from monitor.controller import Controller, SubmitOutcome
from monitor.expand import expand_manifest
from monitor.manifest import load_manifest
from monitor.model import Job
from monitor.states import State
from store.session_store import SessionStore
from tui.cli_common import (
    db_path,
    emit_json,
    open_store,
    run_async,
    with_db,
)
from tui.wiring import close_controller, clusters_of, make_backend, open_controller


@click.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--no-tui", is_flag=True, help="Submit and exit instead of opening the app.")
@click.option("--dry-run", is_flag=True, help="Print what would be submitted; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_db
@click.pass_context
@run_async
async def submit(ctx: click.Context, manifest: Path, no_tui: bool, dry_run: bool, as_json: bool) -> None:
    """Register every job MANIFEST defines and submit those never submitted."""
    loaded = load_manifest(manifest)
    definitions = expand_manifest(loaded)
    session = loaded.session.name
    store = await open_store(ctx)
    try:
        now = time.time()
        if dry_run:
            outcomes = await _dry_run_submit(store, loaded.to_dict(), session, definitions)
        else:
            session_id = await store.ensure_session(session, str(loaded.path), loaded.to_dict(), now)
            await store.add_jobs(session_id, [(d.name, d.task, d.spec) for d in definitions], now)
            controller = await open_controller(store, session)
            try:
                pending = await store.jobs(session, states=[State.PENDING])
                outcomes = await controller.submit(pending)
            finally:
                await close_controller(controller)
        _print_outcomes(outcomes, session, as_json)
    finally:
        await store.close()
    if not dry_run and not no_tui:
        from tui.launch import run_app

        run_app(db_path(ctx), session)
    if any(not o.ok for o in outcomes):
        sys.exit(1)


async def _dry_run_submit(store: SessionStore, manifest: dict, session: str, definitions: Sequence) -> list:
    """What `submit` would send, without writing the session or the intents."""
    known = {(j.name, j.task): j for j in await store.jobs(session)}
    todo = [
        Job(session, d.name, d.task, d.spec.cluster, State.PENDING, d.spec)
        for d in definitions
        if (d.name, d.task) not in known or known[(d.name, d.task)].state is State.PENDING
    ]
    backends = {
        n: make_backend(c, store.path.parent / "local-jobs") for n, c in clusters_of(manifest).items()
    }
    controller = Controller(store, session, backends)
    return await controller.submit(todo, dry_run=True)


def _print_outcomes(outcomes: Sequence[SubmitOutcome], session: str, as_json: bool) -> None:
    if as_json:
        emit_json(
            [
                {
                    "session": session,
                    "name": o.job_name,
                    "cluster": o.cluster,
                    "tasks": list(o.tasks),
                    "job_id": o.scheduler_id,
                    "task_ids": {("" if k is None else str(k)): v for k, v in o.task_ids.items()},
                    "command": o.command,
                    "dry_run": o.dry_run,
                    "error": o.error,
                }
                for o in outcomes
            ]
        )
        return
    if not outcomes:
        click.echo(f"{session}: nothing to submit (every job was submitted before)")
    for o in outcomes:
        label = f"{session}/{o.job_name}" + (f" (tasks {_tasks_text(o.tasks)})" if o.tasks != (None,) else "")
        if o.dry_run:
            click.echo(f"would submit {label} on {o.cluster}:\n{o.command}\n")
        elif o.ok:
            click.echo(f"submitted {label} on {o.cluster}: job {o.scheduler_id}")
        else:
            click.echo(f"FAILED to submit {label} on {o.cluster}: {o.error}", err=True)


def _tasks_text(tasks: Sequence[int | None]) -> str:
    return format_indices([t for t in tasks if t is not None])


# -- read commands ------------------------------------------------------------------------------
