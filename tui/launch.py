"""Opening the full-screen app."""

from __future__ import annotations

from pathlib import Path

import click


def run_app(db: Path, session: str | None) -> None:
    """The full-screen app is not part of this build yet: say how to follow the session instead."""
    target = session or "SESSION"
    click.echo(
        f"jobdeck: the full-screen app is not available in this build; follow the session with "
        f"`jobdeck --db {db} attach {target} --no-tui`",
        err=True,
    )
