"""Opening the full-screen app from the CLI."""

from __future__ import annotations

import gc
from pathlib import Path

from tui.config import load_config


def spare_the_collector() -> None:
    """Move what the process holds before its first app (modules, classes, the libraries' tables)
    out of the cyclic collector's reach, once: they live as long as the process, yet every full
    collection walked them (100-150 ms each on a 2-core machine, several while 10,000 jobs load,
    more during polls). Later garbage, the app's own included, is collected as before."""
    if not gc.get_freeze_count():
        gc.freeze()


def run_app(db: Path, session: str | None, read_only: bool | None = None) -> None:
    from tui.app import JobdeckApp

    spare_the_collector()
    app = JobdeckApp(db, session, load_config(), read_only=read_only)
    app.run()
    if app.return_code:
        raise SystemExit(app.return_code)
