"""Recovery commands: cancel, validate, resume, restart, mark-failed, submit-pending."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any

import click

from monitor.chains import ready_stages
from monitor.controller import Controller
from monitor.errors import InputError
from monitor.mark_failed import mark_failed
from monitor.model import Job
from monitor.restart import restart
from monitor.resume import resume
from monitor.states import State
from monitor.validate_action import ValidationResult, validate_jobs
from store.session_store import SessionStore
from tui.cli_common import (
    emit_json,
    json_option,
    open_store,
    per_session,
    refused_in_read_only,
    resolve_jobs,
    run_async,
    session_option,
    with_db,
)
from tui.cli_queue_jobs import cancel_queued, cluster_option
from tui.job_json import job_dict
from tui.submit_report import submission_dict, submission_line

dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Print exactly what would be done; change nothing."
)


def recovery_command(
    name: str, what: str, *options: Callable[[Any], Any], dry_run: bool = True, jobs_required: bool = True
) -> Callable[[Callable[..., Coroutine[Any, Any, None]]], click.Command]:
    """A command on JOBS (jobdeck's references) with --session, `options`, --dry-run when the
    command has one, --json and --db, refused in read-only mode (unless a dry run), written as a
    coroutine taking the click context first."""

    def decorate(func: Callable[..., Coroutine[Any, Any, None]]) -> click.Command:
        command: Any = click.pass_context(run_async(func))
        command = refused_in_read_only(what, unless="dry_run" if dry_run else None)(command)
        command = json_option(with_db(command))
        for option in reversed((*options, *((dry_run_option,) if dry_run else ()))):
            command = option(command)
        command = click.argument("jobs", nargs=-1, required=jobs_required)(session_option(command))
        return click.command(name=name)(command)

    return decorate


@asynccontextmanager
async def named_jobs(
    ctx: click.Context, refs: Sequence[str], session: str | None
) -> AsyncIterator[tuple[SessionStore, list[Job]]]:
    """The store, open for the command, and the jobs named (every job of `session` when none is)."""
    store = await open_store(ctx)
    try:
        if refs:
            yield store, await resolve_jobs(store, refs, session)
        elif session is None:
            raise click.UsageError("name JOBs or a --session")
        else:
            await store.session_id(session)
            yield store, await store.jobs(session)
    finally:
        await store.close()


async def _refreshed(store: SessionStore, jobs: Sequence[Job]) -> list[dict[str, Any]]:
    return [job_dict(j) for j in await store.jobs(ids=[j.id for j in jobs if j.id is not None])]


@recovery_command("cancel", "cancel", cluster_option)
async def cancel(
    ctx: click.Context,
    jobs: Sequence[str],
    session: str | None,
    cluster: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Cancel jobs (every task of an array named without [TASK]); with --cluster, scheduler job IDs
    of the queue, in a session or not."""
    if cluster is not None:
        if session is not None:
            raise InputError("--cluster and --session: name jobs of a session, or job IDs of a cluster")
        await cancel_queued(ctx, cluster, jobs, dry_run, as_json)
        return

    async def act(controller: Controller, mine: list[Job]) -> list[str]:
        if dry_run:
            return [f"would cancel {j.key} ({j.job_id or 'not submitted'}, {j.state})" for j in mine]
        lines = await controller.cancel(mine)
        await controller.poll()
        return lines

    async with named_jobs(ctx, jobs, session) as (store, chosen):
        lines = [line for part in await per_session(store, chosen, act) for line in part]
        after = await _refreshed(store, chosen)
    if as_json:
        emit_json({"actions": lines, "jobs": after})
    else:
        click.echo("\n".join(lines))


def _validation_dict(r: ValidationResult) -> dict[str, Any]:
    return {
        **job_dict(r.job),
        "state_before": r.before.value,
        "state": r.after.value,
        "verified": r.verified,
        "expected": r.expected,
        "missing_count": len(r.missing),
        "missing": list(r.missing),
        "note": r.note or None,
    }


@recovery_command(
    "validate",
    "validate (it records what the outputs say)",
    click.option(
        "--force", is_flag=True, help="Re-check jobs already validated (e.g. after fixing storage)."
    ),
    dry_run=False,
)
async def validate(
    ctx: click.Context, jobs: Sequence[str], session: str | None, force: bool, as_json: bool
) -> None:
    """Check that the expected outputs of jobs exist; say what each job became."""
    async with named_jobs(ctx, jobs, session) as (store, chosen):
        parts = await per_session(store, chosen, lambda c, mine: validate_jobs(c, mine, force))
    results = [r for part in parts for r in part]
    if as_json:
        emit_json([_validation_dict(r) for r in results])
        return
    for r in results:
        change = f"{r.before} -> {r.after}" if r.before is not r.after else f"{r.after}"
        counts = f"{r.verified}/{r.expected} outputs verified" if r.expected else "no outputs declared"
        click.echo(f"{r.job.key}: {change}; {counts}" + (f" ({r.note})" if r.note else ""))
        for line in r.missing_text:
            click.echo(f"  missing: {line}" if not line.startswith("...") else f"  {line}")


@recovery_command("resume", "resume")
async def resume_command(
    ctx: click.Context, jobs: Sequence[str], session: str | None, dry_run: bool, as_json: bool
) -> None:
    """Resubmit only the missing tasks of PARTIAL jobs (one array job with just those indices)."""
    async with named_jobs(ctx, jobs, session) as (store, chosen):
        siblings = [j for name in {c.session for c in chosen} for j in await store.jobs(name)]
        parts = await per_session(store, chosen, lambda c, mine: resume(c, mine, dry_run, siblings))
        after = await _refreshed(store, chosen)
    results = [r for part in parts for r in part]
    refused = [plan.refusal for plan, _ in results if plan.refusal]
    failed = any(o is not None and not o.ok for _, o in results)
    if as_json:
        emit_json(
            {
                "plans": [
                    {
                        "job": plan.label,
                        "state": plan.whole.value,
                        "tasks": [j.task for j in plan.tasks],
                        "refusal": plan.refusal,
                        "submission": submission_dict(o) if o else None,
                    }
                    for plan, o in results
                ],
                "jobs": after,
            }
        )
    else:
        for plan, outcome in results:
            click.echo(submission_line("resume", outcome) if outcome else plan.refusal)
    if failed or (refused and len(refused) == len(results)):
        sys.exit(1)


@recovery_command("restart", "restart")
async def restart_command(
    ctx: click.Context, jobs: Sequence[str], session: str | None, dry_run: bool, as_json: bool
) -> None:
    """A new attempt of FAILED, CANCELLED or LOST jobs, with the same explicit arguments."""
    async with named_jobs(ctx, jobs, session) as (store, chosen):
        parts = await per_session(store, chosen, lambda c, mine: restart(c, mine, dry_run))
        after = await _refreshed(store, chosen)
    outcomes = [o for part, _ in parts for o in part]
    refused = [line for _, part in parts for line in part]
    if as_json:
        emit_json({"submissions": [submission_dict(o) for o in outcomes], "refused": refused, "jobs": after})
    else:
        for line in [*(submission_line("restart", o) for o in outcomes), *refused]:
            click.echo(line)
    if any(not o.ok for o in outcomes) or not outcomes:
        sys.exit(1)


@recovery_command(
    "mark-failed",
    "mark-failed",
    click.option("--reason", required=True, help="Why, kept in the job's history."),
    dry_run=False,
)
async def mark_failed_command(
    ctx: click.Context, jobs: Sequence[str], session: str | None, reason: str, as_json: bool
) -> None:
    """Settle stuck jobs as FAILED by hand (the scheduler is not touched)."""
    async with named_jobs(ctx, jobs, session) as (store, chosen):
        parts = await per_session(store, chosen, lambda c, mine: mark_failed(c, mine, reason))
        after = await _refreshed(store, chosen)
    lines = [line for part in parts for line in part]
    if as_json:
        emit_json({"actions": lines, "jobs": after})
    else:
        click.echo("\n".join(lines))


@recovery_command("submit-pending", "submit-pending", jobs_required=False)
async def submit_pending(
    ctx: click.Context, jobs: Sequence[str], session: str | None, dry_run: bool, as_json: bool
) -> None:
    """Submit jobs that are defined but were never submitted (all of a session's, or those named)."""
    async with named_jobs(ctx, jobs, session) as (store, chosen):
        everything = [j for name in {c.session for c in chosen} for j in await store.jobs(name)]
        ready = {j.id for j in ready_stages(everything)}
        pending = [j for j in chosen if j.id in ready]
        waiting = [f"{j.key}: {j.reason}" for j in chosen if j.state is State.PENDING and j.id not in ready]
        parts = await per_session(store, pending, lambda c, mine: c.submit(mine, dry_run=dry_run))
    outcomes = [o for part in parts for o in part]
    if as_json:
        emit_json({"submissions": [submission_dict(o) for o in outcomes], "waiting": waiting})
    else:
        click.echo("\n".join(submission_line("submit", o) for o in outcomes) or "nothing ready to submit")
        for line in waiting:
            click.echo(f"not yet: {line}")
    if any(not o.ok for o in outcomes):
        sys.exit(1)
