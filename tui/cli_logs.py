"""`jobdeck logs`: one job's log on the terminal, the command-line twin of the log view. It reads
through the job's cluster's backend as the view does (a file on this machine or over SSH, a pod's log
through the API server, the copy kept in the store once the pod is gone), shows lines made safe for
a terminal as the view shows them, and with --follow prints new lines as they come."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import click

from monitor.controller import Controller
from monitor.errors import InputError, JobdeckError
from monitor.log_tail import LogTail, ReadBytes, ReadChunkOf, TailBatch
from monitor.model import Attempt, Job
from monitor.states import TERMINAL
from store.session_store import SessionStore
from tui.cli_common import (
    db_path,
    open_existing_store,
    per_session,
    resolve_jobs,
    run_async,
    session_option,
    with_db,
)
from tui.cli_queue_jobs import cluster_option, print_queued_log
from tui.log_wiring import log_source

FOLLOW_EVERY = 1.0  # seconds between two looks at a followed log (and at the job's state in the store)
WHOLE = 1 << 62  # a reader never this far behind: the whole log is printed, never its tail alone


class LogUnreadable(JobdeckError):
    """The log is not there (no such file, a pod gone without a kept copy) or cannot be read."""


@click.command(name="logs")
@click.argument("job")
@session_option
@click.option("--follow", "-f", is_flag=True,
              help="Keep printing new lines until the store says the job has ended (a monitor keeps it), or Ctrl-C.")  # fmt: skip
@click.option(
    "--attempt", type=click.IntRange(min=1), help="This attempt (1 is the first); default the latest."
)
@click.option("--stderr", is_flag=True, help="The attempt's stderr, where it has a file of its own.")
@click.option("--tail", "tail_lines", type=click.IntRange(min=0), help="Only the last N lines.")
@cluster_option
@with_db
@click.pass_context
@run_async
async def logs(
    ctx: click.Context, job: str, session: str | None, follow: bool, attempt: int | None, stderr: bool,
    tail_lines: int | None, cluster: str | None,
) -> None:  # fmt: skip
    """Print JOB's log (an array task as NAME[TASK]): SLURM and local files, over SSH, Kubernetes pods."""
    if cluster is not None:
        if session is not None or attempt is not None:
            raise InputError("--cluster: a job of the queue has one attempt and no session to name")
        await print_queued_log(ctx, cluster, job, stderr, follow, tail_lines)
        return
    store = await open_existing_store(ctx)
    if store is None:
        raise InputError(f"no job {job!r} (no database at {db_path(ctx)})")
    try:
        (chosen,) = await _one_job(store, job, session)
        path = _path(chosen, _attempt(chosen, attempt), stderr)
        await per_session(store, [chosen], lambda c, _: _show(c, store, chosen, path, follow, tail_lines))
    finally:
        await store.close()


async def _one_job(store: SessionStore, ref: str, session: str | None) -> Sequence[Job]:
    jobs = await resolve_jobs(store, [ref], session)
    if len(jobs) > 1:
        raise InputError(f"{ref} names {len(jobs)} jobs: name one, e.g. {jobs[0].key}")
    return jobs


def _attempt(job: Job, number: int | None) -> Attempt:
    if not job.attempts:
        raise InputError(f"{job.key} was never submitted: it has no log")
    if number is None:
        return job.attempts[-1]
    found = next((a for a in job.attempts if a.number == number), None)
    if found is None:
        raise InputError(f"{job.key} has no attempt {number} (it has {len(job.attempts)})")
    return found


def _path(job: Job, attempt: Attempt, stderr: bool) -> str:
    if stderr:
        if attempt.err_path is None or attempt.err_path == attempt.log_path:
            raise InputError(f"{job.key} attempt {attempt.number}: stderr goes to the same log as stdout "
                             "(a pod's log and a job without an `err` path hold both streams)")  # fmt: skip
        return attempt.err_path
    if attempt.log_path is None:
        raise InputError(f"{job.key} attempt {attempt.number}: no log path is known yet (not started?)")
    return attempt.log_path


async def _show(
    controller: Controller, store: SessionStore, job: Job, path: str, follow: bool, tail_lines: int | None
) -> None:
    source = log_source(job, controller, store)
    await print_log(source.read, source.read_chunk, path, tail_lines, follow, lambda: _ended(store, job))


async def print_log(
    read: ReadBytes,
    read_chunk: ReadChunkOf | None,
    path: str,
    tail_lines: int | None,
    follow: bool,
    ended: Callable[[], Awaitable[bool]],
) -> None:
    """Print the log (or its last `tail_lines` lines), then with `follow` its new lines until
    nothing more comes and `ended()` says the job has ended."""
    tail, batch = await opened(read, read_chunk, path, tail_lines)
    while follow:
        batch = await read_batch(tail.poll)
        print_batch(batch)
        if batch.behind:
            continue
        if not batch.lines and await ended():
            break
        await asyncio.sleep(FOLLOW_EVERY)
    if batch.pending:  # the last line, without its newline yet
        click.echo(batch.pending)


async def opened(
    read: ReadBytes, read_chunk: ReadChunkOf | None, path: str, tail_lines: int | None
) -> tuple[LogTail, TailBatch]:
    """A tail opened at the log's start, all of it printed, or its last `tail_lines` lines printed;
    and the last batch read."""
    if tail_lines is None:
        tail = LogTail(read, path, start_offset=0, max_behind=WHOLE, read_chunk=read_chunk)
        batch = await read_batch(tail.open)
        print_batch(batch)
        while batch.behind:
            batch = await read_batch(tail.poll)
            print_batch(batch)
        return tail, batch
    window = 64 * 1024
    while True:
        tail = LogTail(read, path, tail_bytes=window, max_behind=WHOLE, read_chunk=read_chunk)
        batch = await read_batch(tail.open)
        if len(batch.lines) >= tail_lines or batch.size <= window:
            print_batch(TailBatch(batch.lines[len(batch.lines) - tail_lines :] if tail_lines else []))
            return tail, batch
        window *= 4


async def read_batch(read: Callable[[], Awaitable[TailBatch]]) -> TailBatch:
    try:
        return await read()
    except OSError as exc:  # FileNotFoundError, PermissionError: one line, exit 1
        raise LogUnreadable(str(exc)) from None


def print_batch(batch: TailBatch) -> None:
    for line in (*batch.notices, *batch.lines):
        click.echo(line)


async def _ended(store: SessionStore, job: Job) -> bool:
    """Whether the store, as the monitor keeps it, says the job has ended."""
    now = next((j for j in await store.jobs(job.session) if j.id == job.id), None)
    return now is None or now.state in TERMINAL
