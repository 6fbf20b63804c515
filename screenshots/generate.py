"""Write the README's screenshots (jobs.svg, detail.svg, log.svg, help.svg) from the running app,
over the same fixed session and scenes as the SVG snapshot tests, so they never drift from what the
tests check.

Run: .venv/bin/python screenshots/generate.py [OUTPUT_FOLDER]   (default: this folder)
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

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


async def main(folder: Path) -> None:
    for name, scene in SHOTS.items():
        print(await shoot(name, scene, folder))


if __name__ == "__main__":
    os.environ["TZ"] = "UTC"  # the times on screen do not depend on where the script runs
    time.tzset()
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent))
