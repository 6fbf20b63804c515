"""Recovery commands: cancel, validate, resume, restart, mark-failed, submit-pending."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from monitor.chains import ready_stages
from monitor.controller import Controller, SubmitOutcome
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
from tui.job_json import job_dict, submit_outcome_dict

dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Print exactly what would be done; change nothing."
)


async def _refreshed(store: SessionStore, jobs: Sequence[Job]) -> list[dict[str, Any]]:
    return [job_dict(j) for j in await store.jobs(ids=[j.id for j in jobs if j.id is not None])]


def _outcome_line(verb: str, o: SubmitOutcome) -> str:
    tasks = [t for t in o.tasks if t is not None]
    label = o.job_name + (f" tasks {','.join(map(str, tasks))}" if tasks else "")
    if o.dry_run:
        return f"would {verb} {label} on {o.cluster}:\n{o.command}"
    if o.ok:
        return f"{verb}: {label} submitted as job {o.scheduler_id}"
    return f"{verb} of {label} FAILED: {o.error}"


@click.command()
@click.argument("jobs", nargs=-1, required=True)
@session_option
@dry_run_option
@json_option
@with_db
@refused_in_read_only("cancel", unless="dry_run")
@click.pass_context
@run_async
async def cancel(
    ctx: click.Context, jobs: Sequence[str], session: str | None, dry_run: bool, as_json: bool
) -> None:
    """Cancel jobs (every task of an array named without [TASK])."""

    async def act(controller: Controller, mine: list[Job]) -> list[str]:
        if dry_run:
            return [f"would cancel {j.key} ({j.job_id or 'not submitted'}, {j.state})" for j in mine]
        lines = await controller.cancel(mine)
        await controller.poll()
        return lines

    store = await open_store(ctx)
    try:
        chosen = await resolve_jobs(store, jobs, session)
        lines = [line for part in await per_session(store, chosen, act) for line in part]
        after = await _refreshed(store, chosen)
    finally:
        await store.close()
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


@click.command()
@click.argument("jobs", nargs=-1, required=True)
@session_option
@click.option("--force", is_flag=True, help="Re-check jobs already validated (e.g. after fixing storage).")
@json_option
@with_db
@refused_in_read_only("validate (it records what the outputs say)")
@click.pass_context
@run_async
async def validate(
    ctx: click.Context, jobs: Sequence[str], session: str | None, force: bool, as_json: bool
) -> None:
    """Check that the expected outputs of jobs exist; say what each job became."""
    store = await open_store(ctx)
    try:
        chosen = await resolve_jobs(store, jobs, session)
        parts = await per_session(store, chosen, lambda c, mine: validate_jobs(c, mine, force))
    finally:
        await store.close()
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


@click.command(name="resume")
@click.argument("jobs", nargs=-1, required=True)
@session_option
@dry_run_option
@json_option
@with_db
@refused_in_read_only("resume", unless="dry_run")
@click.pass_context
@run_async
async def resume_command(
    ctx: click.Context, jobs: Sequence[str], session: str | None, dry_run: bool, as_json: bool
) -> None:
    """Resubmit only the missing tasks of PARTIAL jobs (one array job with just those indices)."""
    store = await open_store(ctx)
    try:
        chosen = await resolve_jobs(store, jobs, session)
        siblings = [j for name in {c.session for c in chosen} for j in await store.jobs(name)]
        parts = await per_session(store, chosen, lambda c, mine: resume(c, mine, dry_run, siblings))
        after = await _refreshed(store, chosen)
    finally:
        await store.close()
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
                        "submission": submit_outcome_dict(o) if o else None,
                    }
                    for plan, o in results
                ],
                "jobs": after,
            }
        )
    else:
        for plan, outcome in results:
            click.echo(plan.refusal if plan.refusal else _outcome_line("resume", outcome))  # type: ignore[arg-type]
    if failed or (refused and len(refused) == len(results)):
        sys.exit(1)


@click.command(name="restart")
@click.argument("jobs", nargs=-1, required=True)
@session_option
@dry_run_option
@json_option
@with_db
@refused_in_read_only("restart", unless="dry_run")
@click.pass_context
@run_async
async def restart_command(
    ctx: click.Context, jobs: Sequence[str], session: str | None, dry_run: bool, as_json: bool
) -> None:
    """A new attempt of FAILED, CANCELLED or LOST jobs, with the same explicit arguments."""
    store = await open_store(ctx)
    try:
        chosen = await resolve_jobs(store, jobs, session)
        parts = await per_session(store, chosen, lambda c, mine: restart(c, mine, dry_run))
        after = await _refreshed(store, chosen)
    finally:
        await store.close()
    outcomes = [o for part, _ in parts for o in part]
    refused = [line for _, part in parts for line in part]
    if as_json:
        emit_json({"submissions": [submit_outcome_dict(o) for o in outcomes], "refused": refused, "jobs": after})
    else:
        for line in [*(_outcome_line("restart", o) for o in outcomes), *refused]:
            click.echo(line)
    if any(not o.ok for o in outcomes) or not outcomes:
        sys.exit(1)


@click.command(name="mark-failed")
@click.argument("jobs", nargs=-1, required=True)
@session_option
@click.option("--reason", required=True, help="Why, kept in the job's history.")
@json_option
@with_db
@refused_in_read_only("mark-failed")
@click.pass_context
@run_async
async def mark_failed_command(
    ctx: click.Context, jobs: Sequence[str], session: str | None, reason: str, as_json: bool
) -> None:
    """Settle stuck jobs as FAILED by hand (the scheduler is not touched)."""
    store = await open_store(ctx)
    try:
        chosen = await resolve_jobs(store, jobs, session)
        parts = await per_session(store, chosen, lambda c, mine: mark_failed(c, mine, reason))
        after = await _refreshed(store, chosen)
    finally:
        await store.close()
    lines = [line for part in parts for line in part]
    if as_json:
        emit_json({"actions": lines, "jobs": after})
    else:
        click.echo("\n".join(lines))


@click.command(name="submit-pending")
@click.argument("jobs", nargs=-1)
@session_option
@dry_run_option
@json_option
@with_db
@refused_in_read_only("submit-pending", unless="dry_run")
@click.pass_context
@run_async
async def submit_pending(
    ctx: click.Context, jobs: Sequence[str], session: str | None, dry_run: bool, as_json: bool
) -> None:
    """Submit jobs that are defined but were never submitted (all of a session's, or those named)."""
    store = await open_store(ctx)
    try:
        if jobs:
            chosen = await resolve_jobs(store, jobs, session)
        else:
            if session is None:
                raise click.UsageError("name JOBs or a --session")
            await store.session_id(session)
            chosen = await store.jobs(session)
        everything = [j for name in {c.session for c in chosen} for j in await store.jobs(name)]
        ready = {j.id for j in ready_stages(everything)}
        pending = [j for j in chosen if j.id in ready]
        waiting = [f"{j.key}: {j.reason}" for j in chosen if j.state is State.PENDING and j.id not in ready]
        parts = await per_session(store, pending, lambda c, mine: c.submit(mine, dry_run=dry_run))
    finally:
        await store.close()
    outcomes = [o for part in parts for o in part]
    if as_json:
        emit_json({"submissions": [submit_outcome_dict(o) for o in outcomes], "waiting": waiting})
    else:
        click.echo("\n".join(_outcome_line("submit", o) for o in outcomes) or "nothing ready to submit")
        for line in waiting:
            click.echo(f"not yet: {line}")
    if any(not o.ok for o in outcomes):
        sys.exit(1)
