"""Write the README's screenshots (my-jobs.svg, jobs.svg, detail.svg, log.svg, help.svg) from the
running app, over the same fixed session, queue entries and scenes as the SVG snapshot tests, so they
never drift from what the tests check.

Run: .venv/bin/python screenshots/generate.py [OUTPUT_FOLDER]   (default: this folder)
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import queue_fixture
import snapshot_session as fixture

SHOTS: dict[str, fixture.Scene] = {
    "jobs": fixture.jobs_scene,
    "detail": fixture.detail_scene,
    "log": fixture.log_scene,
    "help": fixture.help_scene,
}


async def shoot(name: str, scene: fixture.Scene, folder: Path) -> Path:
    """A fresh session (a scene may write to the store, e.g. a log's read position), one picture."""
    db = await fixture.build_session()
    app = fixture.make_app(db)
    async with app.run_test(size=fixture.SIZE) as pilot:
        await scene(pilot)
        await pilot.pause()
        target = folder / f"{name}.svg"
        target.write_text(app.export_screenshot(simplify=True), encoding="utf-8")  # as the snapshots
        return target


async def shoot_my_jobs(folder: Path) -> Path:
    """My jobs, as `jobdeck` opens with no session stored, over the fixed queue entries."""
    db = folder / ".my-jobs-empty.db"
    db.unlink(missing_ok=True)
    app = queue_fixture.make_queue_app(db)
    try:
        async with app.run_test(size=fixture.SIZE) as pilot:
            await queue_fixture.queue_scene(pilot)
            await pilot.pause()
            target = folder / "my-jobs.svg"
            target.write_text(app.export_screenshot(simplify=True), encoding="utf-8")
            return target
    finally:
        for leftover in folder.glob(".my-jobs-empty.db*"):
            leftover.unlink()


async def main(folder: Path) -> None:
    print(await shoot_my_jobs(folder))
    for name, scene in SHOTS.items():
        print(await shoot(name, scene, folder))


if __name__ == "__main__":
    os.environ["TZ"] = "UTC"  # the times on screen do not depend on where the script runs
    time.tzset()
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent))
