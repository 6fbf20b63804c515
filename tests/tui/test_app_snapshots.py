"""SVG snapshots of the app's screens over the fixed session of screenshots/snapshot_session.py (the
same session and scenes as the README screenshots): fixed folder, IDs, tags and times, the app's
clock fixed, no polling, a fixed terminal size and UTC. After a deliberate change of the look, run
`pytest tests/tui/test_app_snapshots.py --snapshot-update` and look at the SVGs before committing."""

from __future__ import annotations

from pathlib import Path

import pytest
import queue_fixture
import snapshot_session as fixture  # on sys.path through this folder's conftest.py


@pytest.mark.parametrize(
    "scene",
    [
        fixture.jobs_scene,
        fixture.detail_scene,
        fixture.log_scene,
        fixture.help_scene,
        fixture.resume_scene,
    ],
    ids=["jobs", "expanded-array-and-detail", "log", "help", "resume-confirmation"],
)
def test_jobs_screens(snap_compare, snapshot_db: Path, scene: fixture.Scene) -> None:
    assert snap_compare(fixture.make_app(snapshot_db), terminal_size=fixture.SIZE, run_before=scene)


def test_sessions_screen(snap_compare, snapshot_db: Path) -> None:
    app = fixture.make_app(snapshot_db, session=None)
    assert snap_compare(app, terminal_size=fixture.SIZE, run_before=fixture.sessions_scene)


def test_my_jobs_screen(snap_compare, utc: None, tmp_path: Path) -> None:
    """Opened on an empty database: My jobs over the fixed queue entries."""
    app = queue_fixture.make_queue_app(tmp_path / "empty.db")
    assert snap_compare(app, terminal_size=fixture.SIZE, run_before=queue_fixture.queue_scene)
