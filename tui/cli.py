"""The `jobdeck` command: headless verbs with --json, and the entry to the full-screen app.

Exit codes: 0 ok, 1 an operation failed, 2 bad input.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from store.location import default_db_path
from tui.cli_common import db_option, open_app

# Each command's module, imported only when that command runs (or --help lists them all): a read
# command then does not pay for SSH, Textual or the engine it does not use.
_COMMANDS = {
    "submit": "tui.cli_submit:submit",
    "sessions": "tui.cli_read:sessions",
    "list": "tui.cli_read:list_jobs",
    "queue": "tui.cli_queue:queue",
    "status": "tui.cli_read:status",
    "logs": "tui.cli_logs:logs",
    "sync": "tui.cli_watch:sync",
    "attach": "tui.cli_watch:attach",
    "cancel": "tui.cli_recover:cancel",
    "validate": "tui.cli_recover:validate",
    "resume": "tui.cli_recover:resume_command",
    "restart": "tui.cli_recover:restart_command",
    "mark-failed": "tui.cli_recover:mark_failed_command",
    "submit-pending": "tui.cli_recover:submit_pending",
    "demo": "tui.cli_submit:demo",
    "track": "tui.cli_submit:track",
    "adopt": "tui.cli_adopt:adopt",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, name = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), name)
        return command


@click.group(
    cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True
)
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
