"""`jobdeck queue`: every job of the user on every cluster, the twin of the app's "My jobs"."""

from __future__ import annotations

import click

from monitor.errors import InputError, JobdeckError
from monitor.queue import QueueEntry
from tui.cli_common import db_path, emit_json, open_existing_store, run_async, with_db
from tui.config import load_config
from tui.queue_clusters import no_clusters_message, queue_clusters
from tui.queue_json import entry_dict
from tui.text_table import duration, table


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
    from tui.queue_source import QueueSource  # the backends: only when listing

    config = load_config()
    if since is not None and since <= 0:
        raise InputError(f"--since: must be a positive number of hours, got {since:g}")
    clusters = queue_clusters(config)
    if not clusters:
        raise InputError(no_clusters_message(config))
    unknown = [name for name in only if name not in clusters]
    if unknown:
        raise InputError(f"--cluster: unknown cluster {unknown[0]!r} (known: {', '.join(clusters)})")
    unreadable = None
    try:
        store = await open_existing_store(ctx)
    except JobdeckError as exc:  # a damaged database: the queue is still the scheduler's
        store, unreadable = None, str(exc)
    source = QueueSource(clusters, store, db_path(ctx).parent / "local-jobs")
    try:
        snapshot = await source.refresh(config.history_hours if since is None else since, only or None)
    finally:
        await source.close()
        if store is not None:
            await store.close()
    for error in snapshot.errors.values():
        click.echo(f"jobdeck: {error}", err=True)
    store_error = snapshot.store_error or unreadable
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
        raise JobdeckError(f"{len(snapshot.errors)} of {len(only or clusters)} clusters did not answer")


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
