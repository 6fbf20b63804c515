"""`jobdeck cancel --cluster C JOBID...` and `jobdeck logs --cluster C JOBID`: the twins of My jobs'
cancel and log keys, for any job of the user's queue, in a session or not. The job is found in one
listing of that cluster's queue (an array's base ID names every task), then the backend acts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import click

from monitor.errors import InputError
from monitor.log_tail import chunk_reader
from monitor.protocols import Backend
from monitor.queue import QueueEntry
from tui.cli_common import emit_json
from tui.config import load_config
from tui.queue_clusters import chosen_clusters
from tui.queue_json import entry_dict

cluster_option = click.option(
    "--cluster", "-c", "cluster",
    help="JOB is a scheduler job ID in the queue of this cluster (see `jobdeck queue`), in a session or not.",
)  # fmt: skip
QUEUE_LOOK_EVERY = 10.0  # seconds between two listings while a log is followed


@asynccontextmanager
async def queue_jobs(
    ctx: click.Context, cluster: str, refs: Sequence[str]
) -> AsyncIterator[tuple[Backend, list[QueueEntry]]]:
    """The cluster's backend, open for the command, and the queue's entries `refs` name."""
    from tui.cli_queue import listing

    config = load_config()
    async with listing(ctx, chosen_clusters(config, [cluster])) as (source, unreadable):
        if unreadable is not None:
            raise unreadable
        snapshot = await source.refresh(config.history_hours)
        if cluster in snapshot.errors:
            raise InputError(snapshot.errors[cluster])
        yield source.backends[cluster], _named(snapshot.entries, refs, cluster, config.history_hours)


def _named(
    entries: Sequence[QueueEntry], refs: Sequence[str], cluster: str, hours: float
) -> list[QueueEntry]:
    chosen: dict[str, QueueEntry] = {}
    for ref in dict.fromkeys(r.strip() for r in refs):
        found = [e for e in entries if ref in (e.job_id, e.array_id)]
        if not found:
            raise InputError(f"job {ref}: not in the queue of {cluster} (nor ended in the last {hours:g} h)")
        chosen.update((e.key, e) for e in found)
    return list(chosen.values())


async def cancel_queued(
    ctx: click.Context, cluster: str, refs: Sequence[str], dry_run: bool, as_json: bool
) -> None:
    """scancel (or delete) the named jobs that have not ended; the others are said to have ended."""
    async with queue_jobs(ctx, cluster, refs) as (backend, entries):
        live = [e for e in entries if not e.finished]
        lines = [f"job {e.job_id} ({e.name}) already ended {e.state.value}" for e in entries if e.finished]
        if live and not dry_run:
            await backend.cancel([e.job_id for e in live])
        verb = "would cancel" if dry_run else "cancel sent for"
        lines += [f"{cluster}: {verb} job {e.job_id} ({e.name}, {e.state.value})" for e in live]
    if as_json:
        now = time.time()
        emit_json({"actions": lines, "jobs": [entry_dict(e, now) for e in entries]})
    else:
        click.echo("\n".join(lines))


async def print_queued_log(
    ctx: click.Context, cluster: str, ref: str, stderr: bool, follow: bool, tail_lines: int | None
) -> None:
    """The log of a job of the queue, read through its cluster's backend as the log view reads it."""
    from tui.cli_logs import print_log

    async with queue_jobs(ctx, cluster, [ref]) as (backend, entries):
        if len(entries) > 1:
            raise InputError(
                f"job {ref} names {len(entries)} array tasks: name one, e.g. {entries[0].job_id}"
            )
        (entry,) = entries
        path = entry.err_path if stderr else entry.log_path
        if stderr and (path is None or path == entry.log_path):
            raise InputError(f"job {entry.job_id}: stderr goes to the same log as stdout")
        if path is None:
            why = (
                "accounting keeps no log path and it ended before it was listed"
                if entry.finished
                else "not started?"
            )
            raise InputError(f"job {entry.job_id}: the scheduler gives no log path ({why})")
        lister = backend.queue_lister
        looked, ended = time.monotonic(), entry.finished

        async def has_ended() -> bool:
            """Whether the queue says the job has ended, asked again at most every QUEUE_LOOK_EVERY s."""
            nonlocal looked, ended
            if not ended and lister is not None and time.monotonic() - looked > QUEUE_LOOK_EVERY:
                listed = await lister.list_queue(time.time() - 3600)
                now = next((e for e in listed.entries if e.job_id == entry.job_id), None)
                ended, looked = now is None or now.finished, time.monotonic()
            return ended

        await print_log(
            backend.read_bytes, chunk_reader(backend.read_many), path, tail_lines, follow, has_ended
        )
