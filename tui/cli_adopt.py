"""`jobdeck adopt`: jobs submitted with plain sbatch become jobs of a session (tui/adopt_jobs.py)."""

from __future__ import annotations

import sys
import time

import click

from monitor.errors import InputError
from monitor.model import Job
from store.session_store import SessionStore
from tui.cli_common import (
    emit_json,
    json_option,
    open_store,
    per_session,
    refused_in_read_only,
    run_async,
    with_db,
)
from tui.config import load_config
from tui.queue_clusters import chosen_clusters


@click.command()
@click.argument("job_ids", nargs=-1, required=True)
@click.option("--cluster", "-c", "cluster_name", help="The cluster the jobs run on (default: the only one).")
@click.option("--session", "-s", default="adopted", show_default=True, help="The session they join.")
@click.option(
    "--output",
    "outputs",
    multiple=True,
    help="An output the job writes (relative to its work dir; {task} for array tasks), checked by "
    "validate; given for a job adopted before, it declares that job's outputs. Without it, the "
    "config file's [adopted.NAME] outputs apply.",
)
@json_option
@with_db
@refused_in_read_only("adopt")
@click.pass_context
@run_async
async def adopt(
    ctx: click.Context,
    job_ids: tuple[str, ...],
    cluster_name: str | None,
    session: str,
    outputs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Make running or finished jobs (submitted outside jobdeck) jobs of a session, under their
    scheduler job name: an array's base ID adopts every task. `restart` then reruns a job's own
    batch script with its arguments and options."""
    from tui.adopt_jobs import adopt as adopt_jobs  # the backends: only when adopting
    from tui.job_json import job_dict

    config = load_config()
    clusters = chosen_clusters(config)
    if cluster_name is None and len(clusters) > 1:
        raise InputError(f"--cluster: say which cluster the jobs run on: {', '.join(clusters)}")
    cluster_name = cluster_name or next(iter(clusters))
    clusters = chosen_clusters(config, [cluster_name])
    cluster = clusters[cluster_name]
    store = await open_store(ctx)
    backend = cluster.open_backend(ctx.obj["db"].parent / "local-jobs", session)
    try:
        try:
            report = await adopt_jobs(
                store,
                cluster,
                backend,
                job_ids,
                session,
                time.time(),
                outputs=outputs,
                configured=config.adopted_outputs,
            )
        finally:
            await backend.close()
        jobs = await _polled(store, session, {c.name for c in report.adopted})
    finally:
        await store.close()
    if as_json:
        emit_json({**report.as_dict(), "jobs": [job_dict(j) for j in jobs]})
    else:
        for line in report.lines():
            click.echo(line)
    if not report.ok:
        sys.exit(1 if report.adopted or report.already else 2)


async def _polled(store: SessionStore, session: str, names: set[str]) -> list[Job]:
    """The adopted jobs after one poll of their session, so they show the scheduler's state now."""
    if not names:
        return []
    outcomes = await per_session(store, await store.jobs(session), lambda controller, _: controller.poll())
    for warning in (w for outcome in outcomes for w in outcome.warnings):
        click.echo(f"jobdeck: {warning}", err=True)
    return [j for j in await store.jobs(session) if j.name in names]
