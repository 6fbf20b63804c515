"""The `jobdeck` command: headless verbs with --json, and the entry to the full-screen app.

Exit codes: 0 ok, 1 an operation failed, 2 bad input.
"""

from __future__ import annotations

from pathlib import Path

import click

from store.location import default_db_path
from tui.cli_common import db_option, open_app
from tui.cli_logs import logs
from tui.cli_read import list_jobs, sessions, status
from tui.cli_recover import (
    cancel,
    mark_failed_command,
    restart_command,
    resume_command,
    submit_pending,
    validate,
)
from tui.cli_submit import demo, submit, track
from tui.cli_watch import attach, sync


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@db_option
@click.option(
    "--read-only", is_flag=True, default=None, help="Nothing can be submitted, cancelled or restarted."
)
@click.pass_context
def main(ctx: click.Context, db: Path | None, read_only: bool | None) -> None:
    """jobdeck: watch and recover SLURM and Kubernetes batch jobs. Without a command, opens the app."""
    ctx.ensure_object(dict)
    ctx.obj["db"] = db or default_db_path()
    ctx.obj["db_explicit"] = db is not None
    ctx.obj["read_only"] = read_only
    ctx.obj["read_only_source"] = "--read-only"
    if ctx.invoked_subcommand is None:
        open_app(ctx, None)


for command in (
    submit,
    sessions,
    list_jobs,
    status,
    logs,
    sync,
    attach,
    cancel,
    validate,
    resume_command,
    restart_command,
    mark_failed_command,
    submit_pending,
    demo,
    track,
):
    main.add_command(command)
