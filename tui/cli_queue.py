"""`jobdeck queue`: every job of the user on every cluster, the twin of the app's "My jobs"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import click

from monitor.errors import InputError, JobdeckError
from monitor.manifest import ClusterConfig
from monitor.queue import QueueEntry
from tui.cli_common import db_path, emit_json, open_existing_store, run_async, with_db
from tui.config import load_config
from tui.queue_clusters import chosen_clusters
from tui.queue_json import entry_dict
from tui.text_table import duration, table

if TYPE_CHECKING:
    from tui.queue_source import QueueSource


@click.command()
@click.option("--cluster", "-c", "only", multiple=True, help="Only this cluster (repeat for several).")
@click.option(
    "--since", "since", type=float, help="Hours of finished jobs to list (default: the config's, 24)."
)
@click.option("--json", "as_json", is_flag=True)
@with_db
@click.pass_context
@run_async
async def queue(ctx: click.Context, only: tuple[str, ...], since: float | None, as_json: bool) -> None:
    """Every job of yours on every cluster: the queue and what finished lately, manifest or not."""
    config = load_config()
    if since is not None and since <= 0:
        raise InputError(f"--since: must be a positive number of hours, got {since:g}")
    clusters = chosen_clusters(config, only)
    async with listing(ctx, clusters) as (source, unreadable):
        snapshot = await source.refresh(config.history_hours if since is None else since)
    for error in snapshot.errors.values():
        click.echo(f"jobdeck: {error}", err=True)
    store_error = snapshot.store_error or (str(unreadable) if unreadable else None)
    if store_error is not None:
        click.echo(f"jobdeck: jobs not named by their sessions: {store_error}", err=True)
    for report in snapshot.reports.values():
        for notice in report.notices:
            named = notice if notice.startswith(f"{report.cluster}: ") else f"{report.cluster}: {notice}"
            click.echo(f"jobdeck: {named}", err=True)
    if as_json:
        emit_json([entry_dict(e, snapshot.at) for e in snapshot.entries])
    else:
        click.echo(queue_table(snapshot.entries, snapshot.at))
    if store_error is not None:
        raise JobdeckError("the session database could not be read (see above)")
    if snapshot.errors:  # what answered is printed; a script still learns that a cluster did not
        raise JobdeckError(f"{len(snapshot.errors)} of {len(clusters)} clusters did not answer")


@asynccontextmanager
async def listing(
    ctx: click.Context, clusters: dict[str, ClusterConfig]
) -> AsyncIterator[tuple[QueueSource, JobdeckError | None]]:
    """A QueueSource of `clusters` for one command, with the session store when it can be read
    (else why not: a damaged database does not hide the scheduler's queue); both closed after."""
    from tui.queue_source import QueueSource  # the backends: only when listing

    unreadable = None
    try:
        store = await open_existing_store(ctx)
    except JobdeckError as exc:
        store, unreadable = None, exc
    source = QueueSource(clusters, store, db_path(ctx).parent / "local-jobs")
    try:
        yield source, unreadable
    finally:
        await source.close()
        if store is not None:
            await store.close()


def queue_table(entries: tuple[QueueEntry, ...], now: float) -> str:
    rows = []
    for e in entries:
        ran = e.elapsed_at(now)
        left = e.time_left_at(now)
        rows.append(
            [
                e.cluster,
                e.job_id,
                e.name,
                e.state.value,
                e.reason or "",
                "" if e.exit_code is None else str(e.exit_code),
                e.partition or "",
                e.nodes or "",
                "" if ran is None else duration(int(ran)),
                "" if left is None else duration(int(left)),
                e.session or "",
            ]
        )
    headers = ["CLUSTER", "JOB ID", "NAME", "STATE", "REASON", "EXIT", "PARTITION", "NODES", "ELAPSED",
               "LEFT", "SESSION"]  # fmt: skip
    return table(headers, rows) if rows else "no jobs"
