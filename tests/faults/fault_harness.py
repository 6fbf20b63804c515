"""What the fault-injection (tests/faults) and hostile-input (tests/hostile) suites share: the real
`jobdeck` command on a database of its own (the Deck of tests/integration, reused as it is),
snapshots of a store to prove that nothing changed, and the figures every test records for the
closing summary."""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]


def load_module(path: Path, name: str) -> ModuleType:
    """A test helper module from another folder (tests use importlib mode and have no packages)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    if name in sys.modules:
        return sys.modules[name]
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses look their module up
    spec.loader.exec_module(module)
    return module


integration = load_module(TESTS / "integration" / "conftest.py", "jobdeck_integration_deck")
Deck = integration.Deck
Transport = integration.Transport
shown = integration.shown
jobdeck_command = integration.jobdeck_command


@pytest.fixture(name="deck")
def deck_fixture(tmp_path: Path) -> Iterator[Any]:
    """jobdeck on a fresh database in tmp_path; the jobs it submitted are cancelled at the end."""
    runner = Deck(tmp_path)
    yield runner
    runner.cancel_leftovers()


# -- the store, as it is --------------------------------------------------------------------------


def store_dump(db: Path) -> list[str]:
    """Every row of every table, in order: equal dumps mean nothing changed. Read-only."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        return list(conn.iterdump())


def job_rows(db: Path) -> list[tuple]:
    """The jobs, attempts and submissions as stored (not events or the lease, which a follower's
    bookkeeping touches): equal means no job changed."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        return [
            (table, *row)
            for table in ("jobs", "attempts", "submissions")
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")
        ]


def popen(deck: Any, *args: str) -> subprocess.Popen[str]:
    """`jobdeck` started in the background as Deck.run runs it (its database, its environment)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
    return subprocess.Popen(
        [jobdeck_command(), "--db", str(deck.db), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**base, **deck.env}, cwd=deck.folder,
    )  # fmt: skip


def integrity(db: Path) -> str:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))


def one_error_line(stderr: str) -> str:
    """The single line a refused command prints; fails on anything else (a traceback, two lines)."""
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {stderr!r}"
    assert lines[0].startswith("jobdeck: error: "), lines[0]
    return lines[0]


# -- the figures ----------------------------------------------------------------------------------

COUNTS = ("cycles", "kills", "faults", "bad_inputs", "lost", "duplicates")


def record(test: str, note: str = "", **counts: int) -> None:
    """Counts of one test (cycles run, kills, faults injected, bad inputs tried, jobs lost,
    duplicate submissions), printed at the end of the run by tests/conftest.py. They go to the file
    that names, so the figures of parallel workers (pytest-xdist) are printed together."""
    unknown = set(counts) - set(COUNTS)
    assert not unknown, f"unknown figure(s) {unknown}; known: {COUNTS}"
    figures = os.environ.get("JOBDECK_TEST_FIGURES")
    if figures:
        with open(figures, "a", encoding="utf-8") as out:
            out.write(json.dumps({"test": test, "note": note, "counts": counts}) + "\n")
