"""The disk that holds the database fills up (a 2 MB tmpfs mounted for the test): a running attach,
a sync and a submit each stop with one line that says the disk is full, the store keeps exactly the
state it had, nothing reaches the scheduler, and once space is freed the same commands carry on."""

from __future__ import annotations

import errno
import json
import sqlite3
import subprocess
import time
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from fault_harness import Deck, integrity, job_rows, one_error_line, popen, record, shown

pytestmark = pytest.mark.cluster

FULL = "the disk holding it is full"


def fill(folder: Path) -> Path:
    """A file that takes every free byte of the file system."""
    path = folder / "filler"
    with path.open("wb", buffering=0) as out:
        for chunk in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    out.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    return path


def squeeze(db: Path, filler: Path) -> Path:
    """Fill the disk again once the write-ahead log is truncated: SQLite reuses the room a log
    already has, so a write only fails for certain when the log has none."""
    filler.unlink()
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    return fill(filler.parent)


def in_accounting(name: str) -> str:
    return subprocess.run(
        ["sacct", "-X", "-n", "-S", "now-10minutes", f"--name={name}", "-o", "JobID"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout.strip()  # fmt: skip


def test_a_full_disk_stops_every_write_in_one_line_and_keeps_the_previous_state(
    small_disk: Path, slurm_conf: str
) -> None:
    deck = Deck(small_disk)  # the database (and the small work folder) on the small disk
    deck.env["SLURM_CONF"] = slurm_conf
    cluster = {"lab": {"backend": "slurm", "workdir": str(deck.workdir)}}
    session = {"name": "full", "validate_grace": 0, "poll_interval": 0.5}
    first = deck.manifest(session, cluster, [
        {"name": "quick", "script": "behave.sh"},
        {"name": "slow", "script": "behave.sh", "args": ["--sleep", "6"]},
    ])  # fmt: skip
    later = f"later-{uuid.uuid4().hex[:6]}"
    second = deck.manifest({**session, "name": "second"}, cluster, [{"name": later, "script": "behave.sh"}])
    try:
        deck.json("submit", str(first), "--no-tui")
        attach = popen(deck, "attach", "full", "--no-tui", "--json", "--interval", "0.5")
        try:
            deadline = time.monotonic() + 30
            while {j["name"]: j["state"] for j in deck.json("list")} != {
                "quick": "SUCCEEDED",
                "slow": "RUNNING",
            }:
                assert time.monotonic() < deadline, deck.json("list")
                time.sleep(0.3)
            before = job_rows(deck.db)
            filler = fill(small_disk)
            out, _ = attach.communicate(timeout=30)  # its next write (the lease, a poll) fails
        finally:
            attach.kill()
        filler = squeeze(deck.db, filler)
        time.sleep(6)  # slow has finished meanwhile: there is a change to write
        sync = deck.run("sync", "--session", "full")
        submit = deck.run("submit", str(second), "--no-tui")
        reached = in_accounting(later)
        filler.unlink()
        ok = integrity(deck.db)
        after_free = job_rows(deck.db)
        again = deck.json("sync", "--session", "full")
        resubmit = deck.run("submit", str(second), "--no-tui", "--json")
    finally:
        deck.cancel_leftovers()
    record("disk full under the database", faults=3, lost=0)
    assert attach.returncode == 1 and FULL in out.splitlines()[-1], out
    for result in (sync, submit):
        assert result.returncode == 1 and FULL in one_error_line(result.stderr), shown(result)
        assert "nothing was changed" in result.stderr and result.stdout == "", shown(result)
    assert after_free == before, "the store changed while the disk was full"
    assert ok == "ok"
    assert reached == "", f"a submit reached the scheduler on a full disk: {reached}"
    assert [c["message"] for c in again[0]["changes"] if c["job"] == "full/slow"][
        -1
    ] == "VALIDATING -> SUCCEEDED"
    assert resubmit.returncode == 0 and json.loads(resubmit.stdout)[0]["job_id"], shown(resubmit)
