"""The `jobdeck` command: headless verbs with --json, and the entry to the full-screen app.

Exit codes: 0 ok, 1 an operation failed, 2 bad input.
"""

from __future__ import annotations

from pathlib import Path

import click

from store.location import default_db_path
from tui.cli_common import db_option
from tui.cli_read import list_jobs, sessions, status
from tui.cli_recover import (
    cancel,
    mark_failed_command,
    restart_command,
    resume_command,
    submit_pending,
    validate,
)
from tui.cli_submit import submit
from tui.cli_watch import attach, sync


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@db_option
@click.pass_context
def main(ctx: click.Context, db: Path | None) -> None:
    """jobdeck: watch and recover SLURM and Kubernetes batch jobs."""
    ctx.ensure_object(dict)
    ctx.obj["db"] = db or default_db_path()


for command in (
    submit,
    sessions,
    list_jobs,
    status,
    sync,
    attach,
    cancel,
    validate,
    resume_command,
    restart_command,
    mark_failed_command,
    submit_pending,
):
    main.add_command(command)
