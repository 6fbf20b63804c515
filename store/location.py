"""Where the session database lives when the user does not say."""

from __future__ import annotations

import os
from pathlib import Path


def default_db_path() -> Path:
    """JOBDECK_DB, else $XDG_STATE_HOME/jobdeck/jobdeck.db (~/.local/state by default), like other
    tools that keep state that is not configuration and not cache."""
    explicit = os.environ.get("JOBDECK_DB")
    if explicit:
        return Path(explicit).expanduser()
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "jobdeck" / "jobdeck.db"
