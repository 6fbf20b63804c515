"""Opening the full-screen app from the CLI."""

from __future__ import annotations

from pathlib import Path

from tui.config import load_config


def run_app(db: Path, session: str | None, read_only: bool | None = None) -> None:
    from tui.app import JobdeckApp

    app = JobdeckApp(db, session, load_config(), read_only=read_only)
    app.run()
    if app.return_code:
        raise SystemExit(app.return_code)
