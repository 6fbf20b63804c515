"""Read-only commands: sessions, list, status."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import click

from monitor.aggregate import aggregate_state
from monitor.chains import stage_label
from monitor.errors import InputError
from monitor.model import Job, SessionSummary
from monitor.states import TERMINAL, State, parse_state
from monitor.unwatched import Unwatched
from store.session_store import SessionStore
from tui.cli_common import (
    db_path,
    emit_json,
    open_existing_store,
    resolve_jobs,
    run_async,
    with_db,
)
from tui.job_json import attempt_dict, event_dict, iso, job_dict, output_dict, session_dict
from tui.text_table import jobs_table, table
from tui.unwatched import session_unwatched


@click.command()
@click.option("--json", "as_json", is_flag=True)
@with_db
@click.pass_context
@run_async
async def sessions(ctx: click.Context, as_json: bool) -> None:
    """Every stored session with its counts per state and last activity."""
    store = await open_existing_store(ctx)
    summaries: list[SessionSummary] = []
    waiting: list[Unwatched | None] = []
    if store is not None:
        try:
            summaries = await store.sessions()
            waiting = [await session_unwatched(store, s) for s in summaries]
        finally:
            await store.close()
    if as_json:
        emit_json([session_dict(s, w) for s, w in zip(summaries, waiting, strict=True)])
        return
    rows = [
        [s.name, str(s.total), _counts_text(s.counts), iso(s.last_activity) or "-", s.manifest_path or "-"]
        for s in summaries
    ]
    click.echo(table(["SESSION", "JOBS", "STATES", "LAST ACTIVITY", "MANIFEST"], rows))
    for summary, found in zip(summaries, waiting, strict=True):
        if found is not None:
            click.echo(f"{summary.name}: {found.summary()}; {found.advice(summary.name)}")


def _counts_text(counts: dict[State, int]) -> str:
    return " ".join(f"{state.value.lower()}={n}" for state, n in sorted(counts.items()))


def array_states(jobs: Sequence[Job]) -> dict[tuple[str, str], State]:
    """Each array's state as a whole, so `--status partial` finds a PARTIAL array's tasks."""
    tasks: dict[tuple[str, str], list[State]] = defaultdict(list)
    for job in jobs:
        if job.task is not None:
            tasks[(job.session, job.name)].append(job.state)
    return {key: aggregate_state(states) for key, states in tasks.items()}


def recent(jobs: Sequence[Job], after: float) -> list[Job]:
    """The jobs not finished, and the finished ones that last changed after `after`: what
    `--since` keeps, as `jobdeck queue --since` keeps the recent history of the scheduler."""
    return [j for j in jobs if j.state not in TERMINAL or j.updated_at >= after]


def _value(state: State | None) -> str | None:
    return state.value if state is not None else None


def _states_option(values: Sequence[str]) -> list[State] | None:
    words = [w for value in values for w in value.split(",") if w.strip()]
    if not words:
        return None
    try:
        return [parse_state(w) for w in words]
    except ValueError as exc:
        raise InputError(f"--status: {exc}") from None


@click.command(name="list")
@click.option("--session", "-s", help="Only this session.")
@click.option("--status", multiple=True, help="Only jobs in these states (repeat or comma-separate).")
@click.option("--since", type=float, help="Finished jobs only if they changed in the last HOURS.")
@click.option("--json", "as_json", is_flag=True)
@with_db
@click.pass_context
@run_async
async def list_jobs(
    ctx: click.Context, session: str | None, status: Sequence[str], since: float | None, as_json: bool
) -> None:
    """One line per job or array task."""
    states = _states_option(status)
    if since is not None and since <= 0:
        raise InputError(f"--since: must be a positive number of hours, got {since:g}")
    store = await open_existing_store(ctx)
    if store is None:
        if session is not None:
            raise InputError(f"no session named {session!r} (no database at {db_path(ctx)})")
        jobs = []
    else:
        try:
            if session is not None:
                await store.session_id(session)
            jobs = await store.jobs(session)
        finally:
            await store.close()
    if since is not None:
        jobs = recent(jobs, time.time() - since * 3600)
    wholes = array_states(jobs)
    if states is not None:
        wanted = set(states)
        jobs = [j for j in jobs if j.state in wanted or wholes.get((j.session, j.name)) in wanted]
    if as_json:
        emit_json([{**job_dict(j), "array_state": _value(wholes.get((j.session, j.name)))} for j in jobs])
    else:
        click.echo(jobs_table(jobs))


@click.command()
@click.argument("job")
@click.option("--session", "-s", help="Look the job up in this session.")
@click.option("--json", "as_json", is_flag=True)
@with_db
@click.pass_context
@run_async
async def status(ctx: click.Context, job: str, session: str | None, as_json: bool) -> None:
    """A job with its attempts and events; an array with each of its tasks."""
    store = await open_existing_store(ctx)
    if store is None:
        raise InputError(f"no job {job!r} (no database at {db_path(ctx)})")
    try:
        jobs = await resolve_jobs(store, [job], session)
        details = [await _details(store, j) for j in jobs]
    finally:
        await store.close()
    if len(jobs) == 1:
        data = details[0]
    elif jobs[0].spec.chain and len({j.name for j in jobs}) > 1:
        data = _chain_summary(jobs, details)
    else:
        data = _array_summary(jobs, details)
    if as_json:
        emit_json(data)
    else:
        _print_status(data)


async def _details(store: SessionStore, job: Job) -> dict[str, Any]:
    assert job.id is not None
    return {
        **job_dict(job),
        "attempts": [attempt_dict(a) for a in job.attempts],
        "events": [event_dict(e) for e in await store.events(job.id)],
        "outputs": [output_dict(o) for o in await store.outputs(job.id)],
    }


def _array_summary(jobs: Sequence[Job], details: Sequence[dict[str, Any]]) -> dict[str, Any]:
    first = jobs[0]
    return {
        "session": first.session,
        "name": first.name,
        "task": None,
        "cluster": first.cluster,
        "state": aggregate_state([j.state for j in jobs]).value,
        "array": first.spec.array,
        "tasks_total": len(jobs),
        "outputs_verified": sum(j.outputs_verified or 0 for j in jobs),
        "outputs_expected": sum(len(j.spec.outputs) for j in jobs),
        "counts": {
            s.value: sum(1 for j in jobs if j.state is s) for s in State if any(j.state is s for j in jobs)
        },
        "tasks": list(details),
    }


def _chain_summary(jobs: Sequence[Job], details: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A generated series: each stage in order with its state (held stages say what they wait for)."""
    first = jobs[0]
    return {
        "session": first.session,
        "name": first.spec.chain,
        "chain": first.spec.chain,
        "task": None,
        "state": aggregate_state([j.state for j in jobs]).value,
        "reason": next((j.reason for j in jobs if j.reason and j.reason.startswith("held")), None),
        "stages_total": len({j.name for j in jobs}),
        "counts": {
            s.value: sum(1 for j in jobs if j.state is s) for s in State if any(j.state is s for j in jobs)
        },
        "stages": [{**d, "stage": stage_label(j)} for j, d in zip(jobs, details, strict=True)],
    }


def _print_status(data: dict[str, Any]) -> None:
    head = f"{data['session']}/{data['name']}" + (f"[{data['task']}]" if data.get("task") is not None else "")
    click.echo(f"{head}: {data['state']}" + (f" ({data['reason']})" if data.get("reason") else ""))
    if "stages" in data:
        for stage in data["stages"]:
            click.echo(
                f"  {stage['stage']:<12} {stage['name']:<24} {stage['state']:<10} {stage['job_id'] or '-':<10} {stage['reason'] or ''}"
            )
        return
    if "tasks" in data:
        click.echo("  " + " ".join(f"{k.lower()}={v}" for k, v in data["counts"].items()))
        for task in data["tasks"]:
            click.echo(
                f"  [{task['task']}] {task['state']:<10} {task['job_id'] or '-':<10} {task['reason'] or ''}"
            )
        return
    for a in data["attempts"]:
        click.echo(
            f"  attempt {a['attempt']} ({a['kind']}): {a['job_id']} {a['state']}"
            + (f" exit {a['exit_code']}" if a["exit_code"] is not None else "")
            + (f" ({a['reason']})" if a["reason"] else "")
            + (f"\n    log: {a['log_path']}" if a["log_path"] else "")
        )
    missing = [o["path"] for o in data["outputs"] if not o["present"]]
    if data["outputs"]:
        verified = "-" if data["outputs_verified"] is None else data["outputs_verified"]
        click.echo(f"  outputs: {verified}/{data['outputs_expected']} verified")
        for path in missing[:5]:
            click.echo(f"    missing: {path}")
        if len(missing) > 5:
            click.echo(f"    ... and {len(missing) - 5} more")
    for e in data["events"][-10:]:
        click.echo(f"  {e['at']}  {e['message']}")


# -- actions ------------------------------------------------------------------------------------
