"""Found by the re-attach scenarios: `jobdeck list` polled while `jobdeck submit` created a new
database failed with "table sessions already exists" (both processes ran migration 1). Several
openers of one new file must all succeed and leave one schema."""

from __future__ import annotations

import asyncio
from pathlib import Path

from store.schema import LATEST
from store.session_store import SessionStore


async def test_openers_racing_on_a_new_database_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "state" / "jobdeck.db"
    opened = await asyncio.gather(*(SessionStore.open(path) for _ in range(3)), return_exceptions=True)
    stores = [s for s in opened if isinstance(s, SessionStore)]
    try:
        assert len(stores) == 3, [repr(s) for s in opened if not isinstance(s, SessionStore)]
        assert [await s.db.scalar("PRAGMA user_version") for s in stores] == [LATEST] * 3
        assert await stores[0].sessions() == []
    finally:
        for store in stores:
            await store.close()
