"""A database file jobdeck cannot use: not SQLite at all, a real jobdeck database with damaged pages
behind an intact header, a truncated one, one written by a newer jobdeck. Every command stops with
one line that names the file and says how to recover, and the file is left byte for byte as it was
(no -wal or -shm created beside it either)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from fault_harness import Deck, one_error_line, record, shown

from store.schema import LATEST
from tui.app import JobdeckApp

COMMANDS = [
    ("sessions",),
    ("list",),
    ("status", "a"),
    ("sync",),
    ("attach", "s", "--no-tui"),
    ("validate", "a"),
]
RECOVER = ".recover"  # the hint for a damaged file: `sqlite3 FILE .recover`


def garbage(db: Path) -> None:
    db.write_bytes(b"these are not the bytes of a database\n" * 500)


def damaged_pages(db: Path) -> None:
    """Every page after the schema's overwritten in part: the header and the schema still read."""
    data = bytearray(db.read_bytes())
    with closing(sqlite3.connect(db)) as conn:
        first = max(root for (root,) in conn.execute("SELECT rootpage FROM sqlite_master")) + 1
    for page in range(first, len(data) // 4096 + 1):
        start = (page - 1) * 4096 + 8
        data[start : start + 400] = b"\xde\xad\xbe\xef" * 100
    db.write_bytes(bytes(data))


def truncated(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])


def newer(db: Path) -> None:
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 1}")
        conn.commit()


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "not-sqlite": (garbage, RECOVER),
    "damaged-pages": (damaged_pages, RECOVER),
    "truncated": (truncated, RECOVER),
    "newer-schema": (newer, f"is newer than this jobdeck understands ({LATEST}); upgrade jobdeck"),
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real database: a session "s" of a job and a 300-task array of real local processes, all run."""
    deck = Deck(tmp_path_factory.mktemp("pristine"))
    manifest = deck.manifest(
        {"name": "s", "validate_grace": 0},
        {"here": {"backend": "local", "max_parallel": 16}},
        [{"name": "a", "script": "behave.sh"}, {"name": "many", "script": "behave.sh", "array": "0-299"}],
    )
    deck.json("submit", str(manifest), "--no-tui")
    deck.json("sync")
    with closing(sqlite3.connect(deck.db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return deck.db


@pytest.fixture
def session_db(deck: Deck, pristine: Path) -> Deck:
    """The pristine database, copied for one test."""
    deck.db.parent.mkdir(mode=0o700)
    shutil.copyfile(pristine, deck.db)
    return deck


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_every_command_refuses_a_bad_database_in_one_line_and_leaves_it_untouched(
    session_db: Deck, damage: str
) -> None:
    deck = session_db
    spoil, hint = DAMAGE[damage]
    spoil(deck.db)
    before = digest(deck.db)
    with ThreadPoolExecutor(len(COMMANDS)) as pool:
        results = list(pool.map(lambda command: deck.run(*command), COMMANDS))
    record(f"bad database ({damage})", bad_inputs=len(COMMANDS))
    for result in results:
        assert result.returncode == 1, shown(result)
        line = one_error_line(result.stderr)
        assert line.startswith(f"jobdeck: error: {deck.db}: ") and hint in line, line
    assert digest(deck.db) == before
    assert sorted(p.name for p in deck.db.parent.iterdir() if p.name.startswith(deck.db.name)) == [
        deck.db.name
    ]


async def test_the_app_shows_a_damaged_database_as_one_line_not_a_traceback(session_db: Deck) -> None:
    damaged_pages(session_db.db)
    app = JobdeckApp(session_db.db, None, polling=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(1.0)
        said = [n.message for n in app._notifications]
        assert app.is_running and app.return_code is None  # no traceback: the app stays, and says why
    about_db = {m for m in said if str(session_db.db) in m}  # My jobs may also say how its clusters are
    assert len(about_db) == 1 and min(about_db).startswith(
        f"{session_db.db}: not a jobdeck database or corrupt"
    ), "\n".join(said)
    assert not any("Traceback" in m for m in said), "\n".join(said)
