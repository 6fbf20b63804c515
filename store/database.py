"""Opening the database file safely: owner-only permissions, schema checks before any write, WAL."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from monitor.errors import StoreError
from store.schema import LATEST, MIGRATIONS

BUSY_TIMEOUT_MS = 5000


def _recovery_hint(path: Path) -> str:
    return f"move {path} aside to start afresh, or try `sqlite3 {path} .recover`"


def describe_sqlite_error(path: Path, exc: BaseException) -> StoreError:
    """One line that names the file and says what to do."""
    text = str(exc)
    full = "disk is full" in text or getattr(exc, "errno", None) == errno.ENOSPC
    if full or "disk I/O error" in text:
        free = _free_bytes(path)
        if full or free == 0:  # a full disk shows as "disk I/O error" when SQLite cannot grow its -shm
            room = "" if free is None else f" ({free:,} bytes free)"
            return StoreError(
                f"{path}: cannot write: the disk holding it is full{room}; free space and retry; nothing was changed"
            )
        return StoreError(f"{path}: cannot write ({text}); check the disk and retry; nothing was changed")
    if "not a database" in text or "malformed" in text:
        return StoreError(f"{path}: not a jobdeck database or corrupt ({text}); {_recovery_hint(path)}")
    if "locked" in text or "busy" in text:
        return StoreError(f"{path}: busy ({text}); another jobdeck is writing; retry")
    if "readonly" in text or "unable to open" in text:
        return StoreError(f"{path}: cannot open for writing ({text})")
    return StoreError(f"{path}: {text}")


def _free_bytes(path: Path) -> int | None:
    """Bytes still free for writing on the file system that holds (or would hold) `path`."""
    place = next((p for p in (path, *path.parents) if p.exists()), None)
    try:
        found = os.statvfs(place) if place is not None else None
    except OSError:
        return None
    return found.f_bavail * found.f_frsize if found else None


SQLITE_MAGIC = b"SQLite format 3\0"


def _refuse_a_damaged_file(path: Path) -> None:
    """Refuse a file that is not SQLite, or shorter than its header says, before SQLite opens it.

    Opened, such a file in WAL mode first gets a -wal and a -shm beside it, which the last of
    several commands opening it at once may leave behind; read here, it is left exactly as it was.
    The size is judged only without a WAL holding pages (after a cut-short checkpoint the pages
    are still there)."""
    try:
        with path.open("rb") as file:
            header, size = file.read(100), os.fstat(file.fileno()).st_size
    except OSError:
        return  # SQLite says why, in the error that follows
    if size == 0:
        return  # a database being created
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise StoreError(
            f"{path}: not a jobdeck database or corrupt (not an SQLite file); {_recovery_hint(path)}"
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96]  # the in-header size counts only when these two match
    expected = pages * page_size if valid else 0
    wal = path.with_name(path.name + "-wal")
    if size < expected and not (wal.exists() and wal.stat().st_size):
        raise StoreError(
            f"{path}: not a jobdeck database or corrupt (truncated: {size:,} of {expected:,} bytes); "
            f"{_recovery_hint(path)}"
        )


def _create_private(path: Path) -> None:
    """Create the folder (0700) and the file (0600) ourselves, so SQLite never creates them with
    the umask's looser defaults; SQLite gives -wal/-shm the database file's mode."""
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=0o700)
        os.chmod(parent, 0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)


class Database:
    """One aiosqlite connection in autocommit mode; writes go through `transaction()`."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, read_only: bool) -> None:
        self.conn = conn
        self.path = path
        self.read_only = read_only
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, *, read_only: bool = False) -> Database:
        """Open (creating when allowed) and migrate. A corrupt file or a newer schema raises
        StoreError before anything is written to the file."""
        path = Path(path).expanduser()
        if read_only and not path.exists():
            raise StoreError(f"{path}: no such database")
        _refuse_a_damaged_file(path)
        try:
            if not read_only:
                _create_private(path)
            uri = f"file:{path}?mode=ro" if read_only else f"file:{path}"
            conn = await aiosqlite.connect(uri, uri=True, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise describe_sqlite_error(path, exc) from exc
        db = cls(conn, path, read_only)
        try:
            await db._prepare()
        except sqlite3.Error as exc:
            await conn.close()
            raise describe_sqlite_error(path, exc) from exc
        except StoreError:
            await conn.close()
            raise
        return db

    async def _prepare(self) -> None:
        await self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = await self.scalar("PRAGMA user_version")
        await self.scalar("SELECT count(*) FROM sqlite_master")  # reads the header: detects garbage
        if version > LATEST:
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this jobdeck understands ({LATEST}); "
                "upgrade jobdeck, or use another --db; the file was not touched"
            )
        if self.read_only:
            if version < LATEST:
                raise StoreError(
                    f"{self.path}: schema version {version} needs migrating; open it read-write once"
                )
            return
        await self._use_wal()
        await self.conn.execute("PRAGMA synchronous = NORMAL")
        await self.conn.execute("PRAGMA foreign_keys = ON")
        for number in range(version, LATEST):
            async with self.transaction():
                if int(await self.scalar("PRAGMA user_version")) > number:
                    continue  # another jobdeck opening the same new file migrated it meanwhile
                for statement in _statements(MIGRATIONS[number]):
                    await self.conn.execute(statement)
                await self.conn.execute(f"PRAGMA user_version = {number + 1}")

    async def _use_wal(self) -> None:
        """WAL mode, set once per file. The switch needs an exclusive lock that SQLite's busy timeout
        does not wait for, so openers racing on a new file try again for as long as it would."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while await self.scalar("PRAGMA journal_mode") != "wal":
            try:
                await self.conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """A read, in one trip to SQLite's thread; SQLite's errors (a damaged page met only now)
        become one-line StoreErrors."""
        try:
            return list(await self.conn.execute_fetchall(sql, tuple(params)))
        except sqlite3.Error as exc:
            raise describe_sqlite_error(self.path, exc) from exc

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        found = await self.rows(sql, params)
        return found[0][0] if found else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; any error rolls back, so a failed poll leaves the previous state."""
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only; nothing can be changed")
        async with self._write_lock:
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise describe_sqlite_error(self.path, exc) from exc
            try:
                yield self.conn
                await self.conn.execute("COMMIT")
            except BaseException as exc:
                # the connection may already have rolled back (a full disk aborts the transaction)
                with contextlib.suppress(sqlite3.Error):
                    await self.conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise describe_sqlite_error(self.path, exc) from exc
                raise

    async def close(self) -> None:
        await self.conn.close()


def _statements(script: str) -> list[str]:
    """Split a migration into statements (none of ours contains a ';' inside a literal)."""
    return [s.strip() for s in script.split(";") if s.strip()]
