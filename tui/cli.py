"""The `jobdeck` command: headless verbs with --json, and the entry to the full-screen app.

Exit codes: 0 ok, 1 an operation failed, 2 bad input.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from monitor.aggregate import aggregate_state
from monitor.controller import Controller, SubmitOutcome
from monitor.errors import InputError, JobdeckError
from monitor.expand import expand_manifest
from monitor.jobref import parse_ref, select
from monitor.manifest import load_manifest
from monitor.model import Event, Job
from monitor.states import IN_SCHEDULER, State, parse_state
from store.location import default_db_path
from store.session_store import SessionStore
from tui.job_json import attempt_dict, event_dict, iso, job_dict, output_dict, session_dict
from tui.text_table import jobs_table, table
from tui.wiring import close_controller, open_controller

P = ParamSpec("P")
R = TypeVar("R")


def run_async(func: Callable[P, Awaitable[R]]) -> Callable[P, R]:
    """Run a coroutine command; a JobdeckError becomes one line on stderr and its exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return asyncio.run(func(*args, **kwargs))  # type: ignore[arg-type]
        except JobdeckError as exc:
            click.echo(f"jobdeck: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def db_path(ctx: click.Context) -> Path:
    return ctx.obj["db"]


async def open_store(ctx: click.Context) -> SessionStore:
    return await SessionStore.open(db_path(ctx))


db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Session database (default: $JOBDECK_DB or ~/.local/state/jobdeck/jobdeck.db).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@db_option
@click.pass_context
def main(ctx: click.Context, db: Path | None) -> None:
    """jobdeck: watch and recover SLURM and Kubernetes batch jobs."""
    ctx.ensure_object(dict)
    ctx.obj["db"] = db or default_db_path()


def _with_db(command: Callable[..., Any]) -> Callable[..., Any]:
    """Let --db also follow the subcommand, as scripts tend to write it."""

    @db_option
    @wraps(command)
    def wrapper(*args: Any, db: Path | None = None, **kwargs: Any) -> Any:
        if db is not None:
            click.get_current_context().obj["db"] = db
        return command(*args, **kwargs)

    return wrapper


# -- submit -------------------------------------------------------------------------------------


@main.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--no-tui", is_flag=True, help="Submit and exit instead of opening the app.")
@click.option("--dry-run", is_flag=True, help="Print what would be submitted; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_with_db
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
    from tui.wiring import clusters_of, make_backend

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
    from monitor.arrays import format_indices

    return format_indices([t for t in tasks if t is not None])


# -- read commands ------------------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True)
@_with_db
@click.pass_context
@run_async
async def sessions(ctx: click.Context, as_json: bool) -> None:
    """Every stored session with its counts per state and last activity."""
    store = await open_store(ctx)
    try:
        summaries = await store.sessions()
    finally:
        await store.close()
    if as_json:
        emit_json([session_dict(s) for s in summaries])
        return
    rows = [
        [s.name, str(s.total), _counts_text(s.counts), iso(s.last_activity) or "-", s.manifest_path or "-"]
        for s in summaries
    ]
    click.echo(table(["SESSION", "JOBS", "STATES", "LAST ACTIVITY", "MANIFEST"], rows))


def _counts_text(counts: dict[State, int]) -> str:
    return " ".join(f"{state.value.lower()}={n}" for state, n in sorted(counts.items()))


def _states_option(values: Sequence[str]) -> list[State] | None:
    words = [w for value in values for w in value.split(",") if w.strip()]
    if not words:
        return None
    try:
        return [parse_state(w) for w in words]
    except ValueError as exc:
        raise InputError(f"--status: {exc}") from None


@main.command(name="list")
@click.option("--session", "-s", help="Only this session.")
@click.option("--status", multiple=True, help="Only jobs in these states (repeat or comma-separate).")
@click.option("--json", "as_json", is_flag=True)
@_with_db
@click.pass_context
@run_async
async def list_jobs(ctx: click.Context, session: str | None, status: Sequence[str], as_json: bool) -> None:
    """One line per job or array task."""
    states = _states_option(status)
    store = await open_store(ctx)
    try:
        if session is not None:
            await store.session_id(session)
        jobs = await store.jobs(session, states=states)
    finally:
        await store.close()
    if as_json:
        emit_json([job_dict(j) for j in jobs])
    else:
        click.echo(jobs_table(jobs))


async def resolve_jobs(store: SessionStore, refs: Sequence[str], session: str | None) -> list[Job]:
    """The jobs named on the command line, in order, without duplicates."""
    everything = await store.jobs(session)
    chosen: dict[int | None, Job] = {}
    for text in refs:
        ref = parse_ref(text if session is None or "/" in text else f"{session}/{text}")
        by_id = await store.jobs_by_scheduler_id(ref.name) if ref.may_be_scheduler_id else []
        for job in select(ref, everything, by_id):
            chosen.setdefault(job.id, job)
    return list(chosen.values())


@main.command()
@click.argument("job")
@click.option("--session", "-s", help="Look the job up in this session.")
@click.option("--json", "as_json", is_flag=True)
@_with_db
@click.pass_context
@run_async
async def status(ctx: click.Context, job: str, session: str | None, as_json: bool) -> None:
    """A job with its attempts and events; an array with each of its tasks."""
    store = await open_store(ctx)
    try:
        jobs = await resolve_jobs(store, [job], session)
        details = [await _details(store, j) for j in jobs]
    finally:
        await store.close()
    data = details[0] if len(jobs) == 1 and jobs[0].task is None else _array_summary(jobs, details)
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


def _print_status(data: dict[str, Any]) -> None:
    head = f"{data['session']}/{data['name']}" + (f"[{data['task']}]" if data.get("task") is not None else "")
    click.echo(f"{head}: {data['state']}" + (f" ({data['reason']})" if data.get("reason") else ""))
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
        click.echo(f"  outputs: {data['outputs_verified']}/{data['outputs_expected']} verified")
        for path in missing[:5]:
            click.echo(f"    missing: {path}")
        if len(missing) > 5:
            click.echo(f"    ... and {len(missing) - 5} more")
    for e in data["events"][-10:]:
        click.echo(f"  {e['at']}  {e['message']}")


# -- actions ------------------------------------------------------------------------------------


async def _session_names(store: SessionStore, session: str | None, active_only: bool) -> list[str]:
    if session is not None:
        await store.session_id(session)
        return [session]
    names = []
    for summary in await store.sessions():
        active = any(summary.counts.get(s) for s in (*IN_SCHEDULER, State.VALIDATING))
        if active or not active_only:
            names.append(summary.name)
    return names


@main.command()
@click.option("--session", "-s", help="Only this session (default: every session with active jobs).")
@click.option("--dry-run", is_flag=True, help="Ask the scheduler but store nothing; print what would change.")
@click.option("--no-validate", is_flag=True, help="Trust the scheduler's COMPLETED without checking outputs.")
@click.option("--json", "as_json", is_flag=True)
@_with_db
@click.pass_context
@run_async
async def sync(
    ctx: click.Context, session: str | None, dry_run: bool, no_validate: bool, as_json: bool
) -> None:
    """Poll once: record what changed and validate jobs that completed."""
    store = await open_store(ctx)
    report: list[dict[str, Any]] = []
    failed = False
    try:
        for name in await _session_names(store, session, active_only=session is None):
            controller = await open_controller(store, name, validate=False if no_validate else None)
            try:
                outcome = await controller.poll(dry_run=dry_run)
            finally:
                await close_controller(controller)
            failed = failed or any(not h.ok for h in outcome.health.values())
            report.append(
                {
                    "session": name,
                    "dry_run": dry_run,
                    "validated": controller.settings.validate,
                    "changes": [event_dict(e) for e in outcome.events],
                    "warnings": outcome.warnings,
                    "clusters": {
                        c: {
                            "ok": h.ok,
                            "error": h.error,
                            "commands": list(h.commands),
                            "seconds": round(h.seconds, 3),
                        }
                        for c, h in outcome.health.items()
                    },
                }
            )
    finally:
        await store.close()
    if as_json:
        emit_json(report)
    else:
        for entry in report:
            note = "" if entry["validated"] else " (not validating outputs: trusting the scheduler)"
            click.echo(
                f"{entry['session']}: {len(entry['changes'])} change(s){' (dry run)' if dry_run else ''}{note}"
            )
            for change in entry["changes"]:
                click.echo(f"  {change['job']}: {change['message']}")
            for warning in entry["warnings"]:
                click.echo(f"  warning: {warning}", err=True)
    if failed:
        sys.exit(1)


@main.command()
@click.argument("jobs", nargs=-1, required=True)
@click.option("--session", "-s", help="Look the jobs up in this session.")
@click.option("--dry-run", is_flag=True, help="Say what would be cancelled; change nothing.")
@click.option("--json", "as_json", is_flag=True)
@_with_db
@click.pass_context
@run_async
async def cancel(
    ctx: click.Context, jobs: Sequence[str], session: str | None, dry_run: bool, as_json: bool
) -> None:
    """Cancel jobs (every task of an array named without [TASK])."""
    store = await open_store(ctx)
    try:
        chosen = await resolve_jobs(store, jobs, session)
        lines: list[str] = []
        for name in sorted({j.session for j in chosen}):
            mine = [j for j in chosen if j.session == name]
            if dry_run:
                lines += [f"would cancel {j.key} ({j.job_id or 'not submitted'}, {j.state})" for j in mine]
                continue
            controller = await open_controller(store, name)
            try:
                lines += await controller.cancel(mine)
                await controller.poll()
            finally:
                await close_controller(controller)
        after = await store.jobs(ids=[j.id for j in chosen if j.id is not None])
    finally:
        await store.close()
    if as_json:
        emit_json({"actions": lines, "jobs": [job_dict(j) for j in after]})
    else:
        click.echo("\n".join(lines))


@main.command()
@click.argument("session", required=False)
@click.option(
    "--no-tui", is_flag=True, help="Print each state change as it happens instead of opening the app."
)
@click.option("--all", "all_sessions", is_flag=True, help="Every session with active jobs.")
@click.option("--interval", type=click.FloatRange(min=0.2), default=None, help="Seconds between polls.")
@click.option("--exit-when-done", is_flag=True, help="Stop once no job is queued, running or validating.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event (JSON lines).")
@_with_db
@click.pass_context
@run_async
async def attach(
    ctx: click.Context,
    session: str | None,
    no_tui: bool,
    all_sessions: bool,
    interval: float | None,
    exit_when_done: bool,
    as_json: bool,
) -> None:
    """Re-attach to a session: poll, record and show every change."""
    store = await open_store(ctx)
    try:
        names = await _attach_targets(store, session, all_sessions)
        if not no_tui:
            await store.close()
            from tui.launch import run_app

            run_app(db_path(ctx), names[0] if len(names) == 1 else None)
            return
        await _watch(store, names, interval, exit_when_done, as_json)
    finally:
        await store.close()


async def _attach_targets(store: SessionStore, session: str | None, all_sessions: bool) -> list[str]:
    if session is not None:
        await store.session_id(session)
        return [session]
    names = await _session_names(store, None, active_only=True)
    if all_sessions:
        return names
    every = [s.name for s in await store.sessions()]
    if len(every) == 1:
        return every
    if not every:
        raise InputError(f"no sessions in {store.path}; start one with `jobdeck submit MANIFEST`")
    raise InputError(f"several sessions ({', '.join(every)}): name one, or pass --all")


async def _watch(
    store: SessionStore, names: Sequence[str], interval: float | None, exit_when_done: bool, as_json: bool
) -> None:
    controllers = [await open_controller(store, n) for n in names]
    unhealthy: dict[tuple[str, str], str] = {}
    try:
        while True:
            active = 0
            for controller in controllers:
                outcome = await controller.poll()
                for event in outcome.events:
                    _print_event(event, as_json)
                for cluster, health in outcome.health.items():
                    _print_health_change(controller.session, cluster, health.error, unhealthy, as_json)
                remaining = await store.jobs(controller.session, states=[*IN_SCHEDULER, State.VALIDATING])
                active += len(remaining)
            if exit_when_done and active == 0:
                return
            await asyncio.sleep(interval or min(_poll_interval(c) for c in controllers))
    finally:
        for controller in controllers:
            await close_controller(controller)


def _poll_interval(controller: Controller) -> float:
    return controller.settings.poll_interval


def _print_event(event: Event, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(event_dict(event), ensure_ascii=False), nl=True)
    else:
        click.echo(f"{time.strftime('%H:%M:%S', time.localtime(event.at))}  {event.job}  {event.message}")
    sys.stdout.flush()


def _print_health_change(
    session: str, cluster: str, error: str | None, unhealthy: dict[tuple[str, str], str], as_json: bool
) -> None:
    key = (session, cluster)
    if error and unhealthy.get(key) != error:
        unhealthy[key] = error
        message = f"{session}/{cluster}: unreachable: {error}; no job changes state until it answers"
    elif not error and key in unhealthy:
        del unhealthy[key]
        message = f"{session}/{cluster}: reachable again"
    else:
        return
    if as_json:
        click.echo(json.dumps({"at": iso(time.time()), "kind": "health", "message": message}))
    else:
        click.echo(f"{time.strftime('%H:%M:%S')}  {message}", err=bool(error))
