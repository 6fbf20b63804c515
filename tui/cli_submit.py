"""`jobdeck submit`: register a manifest's jobs and submit those never submitted."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from backends.registry import CLUSTER_KINDS, load_manifest
from monitor.chains import ready_stages
from monitor.controller import Controller, SubmitOutcome
from monitor.expand import JobDefinition, expand_manifest
from monitor.model import Job
from monitor.states import State
from monitor.track import track as track_manifest
from store.session_store import SessionStore
from tui.cli_common import (
    db_path,
    emit_json,
    json_option,
    open_app,
    open_store,
    refused_in_read_only,
    run_async,
    run_sync,
    with_db,
)
from tui.demo import demo_folder, write_demo
from tui.submit_report import submission_dict, submission_line
from tui.wiring import close_controller, clusters_of, open_controller


@click.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--no-tui", is_flag=True, help="Submit and exit instead of opening the app.")
@click.option("--dry-run", is_flag=True, help="Print what would be submitted; change nothing.")
@json_option
@with_db
@refused_in_read_only("submit", unless="dry_run")
@click.pass_context
def submit(ctx: click.Context, manifest: Path, no_tui: bool, dry_run: bool, as_json: bool) -> None:
    """Register every job MANIFEST defines and submit those never submitted."""
    session, outcomes = run_sync(register_and_submit(ctx, manifest, dry_run))
    _print_outcomes(outcomes, session, as_json)
    if not dry_run and not no_tui:
        open_app(ctx, session)
    if any(not o.ok for o in outcomes):
        sys.exit(1)


async def register_and_submit(
    ctx: click.Context, manifest: Path, dry_run: bool = False
) -> tuple[str, list[SubmitOutcome]]:
    """Load and check the manifest (nothing is written if it is bad), store the session and its
    jobs, and submit the jobs never submitted."""
    loaded = load_manifest(manifest)
    definitions = expand_manifest(loaded)
    session = loaded.session.name
    if dry_run and not db_path(ctx).exists():
        return session, await _dry_run_submit(None, loaded.to_dict(), session, definitions)
    store = await open_store(ctx)
    try:
        if dry_run:
            return session, await _dry_run_submit(store, loaded.to_dict(), session, definitions)
        now = time.time()
        session_id = await store.ensure_session(session, str(loaded.path), loaded.to_dict(), now)
        await store.add_jobs(session_id, [(d.name, d.task, d.spec) for d in definitions], now)
        controller = await open_controller(store, session)
        try:
            return session, await controller.submit(ready_stages(await store.jobs(session)))
        finally:
            await close_controller(controller)
    finally:
        await store.close()


@click.command()
@click.option("--no-tui", is_flag=True, help="Submit and exit instead of opening the app.")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), help="Where to write the demo.")
@with_db
@refused_in_read_only("demo (it submits jobs)")
@click.pass_context
def demo(ctx: click.Context, no_tui: bool, folder: Path | None) -> None:
    """A session of a dozen short real processes on this machine: watch them succeed, fail, go
    PARTIAL, then resume (r) and restart (R) them. Uses its own database unless --db is given."""
    if ctx.obj.get("db_explicit") is not True:
        ctx.obj["db"] = db_path(ctx).with_name("demo.db")
    where, session = demo_folder(db_path(ctx).parent)
    manifest = write_demo(folder or where, session)
    click.echo(f"demo files in {manifest.parent}; database {db_path(ctx)}")
    session, outcomes = run_sync(register_and_submit(ctx, manifest))
    _print_outcomes(outcomes, session, as_json=False)
    if not no_tui:
        open_app(ctx, session)


async def _dry_run_submit(
    store: SessionStore | None, manifest: dict[str, Any], session: str, definitions: Sequence[JobDefinition]
) -> list[SubmitOutcome]:
    """What `submit` would send, without writing the session or the intents (nor creating the
    database)."""
    known = {(j.name, j.task): j for j in await store.jobs(session)} if store else {}
    every = [known.get((d.name, d.task)) or Job(session, d.name, d.task, d.spec.cluster, State.PENDING, d.spec)
             for d in definitions]  # fmt: skip
    todo = ready_stages(every)
    backends = {n: c.open_backend(Path("/nonexistent"), None) for n, c in clusters_of(manifest).items()}
    controller = Controller(store, session, backends)  # type: ignore[arg-type]
    return await controller.submit(todo, dry_run=True)


def _print_outcomes(outcomes: Sequence[SubmitOutcome], session: str, as_json: bool) -> None:
    if as_json:
        emit_json([submission_dict(o) for o in outcomes])
        return
    if not outcomes:
        click.echo(f"{session}: nothing to submit (every job was submitted before)")
    for o in outcomes:
        click.echo(submission_line("submit", o), err=not o.ok)


# -- track -----------------------------------------------------------------------------------------


@click.command()
@click.argument("session")
@click.option("--submit", "submit_now", is_flag=True, help="Also submit the jobs never submitted.")
@json_option
@with_db
@refused_in_read_only("track")
@click.pass_context
@run_async
async def track(ctx: click.Context, session: str, submit_now: bool, as_json: bool) -> None:
    """Monitor-all: register every job SESSION's manifest defines that is not tracked yet."""
    store = await open_store(ctx)
    try:
        result = await track_manifest(store, session, CLUSTER_KINDS)
        outcomes: list[SubmitOutcome] = []
        if submit_now and result.never_submitted:
            controller = await open_controller(store, session)
            try:
                outcomes = await controller.submit(ready_stages(await store.jobs(session)))
            finally:
                await close_controller(controller)
    finally:
        await store.close()
    if as_json:
        emit_json({"session": session, "added": result.added, "never_submitted": result.never_submitted})
    else:
        click.echo(f"{session}: {result.added} new job(s) registered from {result.manifest}")
        if result.never_submitted and not submit_now:
            click.echo(
                f"{result.never_submitted} never submitted: `jobdeck submit-pending --session {session}`"
            )
        if outcomes:
            _print_outcomes(outcomes, session, as_json=False)
    if any(not o.ok for o in outcomes):
        sys.exit(1)
