"""The on-disk truth of the local backend: one JSON record per task, replaced atomically.

The monitor and the shims are separate processes that may die at any moment, so every write goes
to a temporary file that is fsynced and renamed over the record: a reader sees the old record or
the new one, never half of either. Read-modify-write updates hold one lock per records directory.
This module uses only the standard library: every shim imports it at start-up.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

FINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One task's fate; `pid`/`pid_start` identify its shim so a recycled PID is not mistaken for it."""

    job_id: str
    name: str
    tag: str
    state: str  # PENDING, RUNNING, COMPLETED, FAILED or CANCELLED
    submit_time: float
    argv: tuple[str, ...]
    log_path: str
    err_path: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    start_time: float | None = None
    end_time: float | None = None
    pid: int | None = None
    pid_start: int | None = None  # start time of `pid` in clock ticks since boot (/proc/<pid>/stat)
    pgid: int | None = None


def record_path(records_dir: Path, job_id: str) -> Path:
    return records_dir / f"{job_id}.json"


@contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive fcntl lock on `lock_path` (created if missing) for the block."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that no reader, crash or reboot ever sees a partial file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_record(path: Path, record: TaskRecord) -> None:
    write_atomic(path, json.dumps(asdict(record)).encode())


def read_record(path: Path) -> TaskRecord:
    """Raises FileNotFoundError for a missing record, ValueError naming the file for a corrupt one."""
    data = path.read_bytes()
    try:
        fields: dict[str, Any] = json.loads(data)
        return TaskRecord(**{**fields, "argv": tuple(fields["argv"])})
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"unreadable task record {path}: {exc}") from None


def update_record(path: Path, *, unless_final: bool = False, **changes: Any) -> TaskRecord:
    """Change some fields under the directory's lock; with `unless_final`, a finished record is kept."""
    with locked(path.parent / ".lock"):
        current = read_record(path)
        if unless_final and current.state in FINAL_STATES:
            return current
        updated = replace(current, **changes)
        write_record(path, updated)
        return updated


def process_start(pid: int) -> int | None:
    """The start time of a live process in clock ticks since boot; None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])  # field 22 of proc(5): starttime
