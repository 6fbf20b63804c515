"""What every `jobdeck` subcommand shares: the async runner, the store, --db, --json, JOB lookup."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import click

from monitor.errors import InputError, JobdeckError
from monitor.jobref import parse_ref, select
from monitor.model import Job
from store.session_store import SessionStore
from tui.config import config_path, load_config

if TYPE_CHECKING:
    from monitor.controller import Controller

P = ParamSpec("P")
R = TypeVar("R")


def run_sync(coroutine: Coroutine[Any, Any, R]) -> R:
    """Run a command's coroutine; a JobdeckError becomes one line on stderr and its exit code."""
    try:
        return asyncio.run(coroutine)
    except JobdeckError as exc:
        fail(exc)
    except KeyboardInterrupt:
        sys.exit(130)


def run_async(func: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, R]:
    """A click command written as a coroutine."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return run_sync(func(*args, **kwargs))

    return wrapper


def open_app(ctx: click.Context, session: str | None) -> None:
    """The full-screen app, after the command's own event loop has finished."""
    from tui.launch import run_app

    try:
        run_app(db_path(ctx), session, read_only=ctx.obj.get("read_only"))
    except JobdeckError as exc:
        fail(exc)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def db_path(ctx: click.Context) -> Path:
    path: Path = ctx.obj["db"]
    return path


async def open_existing_store(ctx: click.Context) -> SessionStore | None:
    """For read commands: None when there is no database yet (it is not created by reading)."""
    return await open_store(ctx) if db_path(ctx).exists() else None


async def open_store(ctx: click.Context) -> SessionStore:
    """The session store; opened read-only in read-only mode, so nothing can be written by mistake."""
    return await SessionStore.open(db_path(ctx), read_only=is_read_only(ctx))


def is_read_only(ctx: click.Context) -> bool:
    """--read-only, else the `read_only` setting of the user's config file."""
    if ctx.obj.get("read_only") is None:
        ctx.obj["read_only"] = load_config().read_only
        ctx.obj["read_only_source"] = f"read_only = true in {config_path()}"
    return bool(ctx.obj["read_only"])


def refused_in_read_only(what: str, unless: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """For every command that submits, cancels, restarts, resumes or changes jobs by hand: in
    read-only mode it stops with one line (exit 2) before anything is opened or sent. `unless`
    names a flag (--dry-run) that makes the command change nothing, so it may still run."""

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        @wraps(command)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if not (unless and kwargs.get(unless)):
                try:
                    refuse_if_read_only(click.get_current_context(), what)
                except JobdeckError as exc:
                    fail(exc)
            return command(*args, **kwargs)

        return wrapper

    return decorate


def refuse_if_read_only(ctx: click.Context, what: str) -> None:
    if is_read_only(ctx):
        source = ctx.obj.get("read_only_source", "--read-only")
        raise InputError(f"read-only mode ({source}): {what} is disabled")


def fail(exc: JobdeckError) -> NoReturn:
    click.echo(f"jobdeck: error: {exc}", err=True)
    sys.exit(exc.exit_code)


db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Session database (default: $JOBDECK_DB or ~/.local/state/jobdeck/jobdeck.db).",
)


def with_db(command: Callable[..., Any]) -> Callable[..., Any]:
    """Let --db also follow the subcommand, as scripts tend to write it."""

    @db_option
    @wraps(command)
    def wrapper(*args: Any, db: Path | None = None, **kwargs: Any) -> Any:
        if db is not None:
            click.get_current_context().obj.update(db=db, db_explicit=True)
        return command(*args, **kwargs)

    return wrapper


# -- job lookup ------------------------------------------------------------------------------------


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


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
session_option = click.option("--session", "-s", help="Look the jobs up in this session.")


async def per_session(
    store: SessionStore, jobs: Sequence[Job], action: Callable[[Controller, list[Job]], Awaitable[R]]
) -> list[R]:
    """Run `action` with each session's controller on that session's jobs (connections closed after)."""
    from tui.wiring import close_controller, open_controller

    results = []
    for name in sorted({j.session for j in jobs}):
        controller = await open_controller(store, name)
        try:
            results.append(await action(controller, [j for j in jobs if j.session == name]))
        finally:
            await close_controller(controller)
    return results
