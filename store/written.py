"""A job as it reads once a poll's updates of it are stored, built without reading it back: what
apply_updates writes, with the types SQLite's column affinities give back (an int written to a
REAL column reads as a float). A job whose update adds an attempt or outputs is read back instead."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.model import Job, JobUpdate, apply_update

_REAL = frozenset({"submit_time", "start_time", "end_time", "log_grew_at", "missing_since"})
_INTEGER = frozenset({"exit_code", "requeues", "log_size"})


def stored_as(job: Job, updates: Sequence[JobUpdate], now: float) -> Job | None:
    """`job` once its `updates`, in order, are stored; None when one adds an attempt or outputs."""
    for update in updates:
        if update.new_attempt is not None or update.outputs is not None:
            return None
        job = apply_update(job, update, _real(now), _as_stored)
    return job


def _as_stored(name: str, value: Any) -> Any:
    """A field's value as SQLite gives it back."""
    if name in _REAL:
        return _real(value)
    if name in _INTEGER:
        return _integer(value)
    return value


def _real(value: float | None) -> float | None:
    return None if value is None else float(value)


def _integer(value: Any) -> Any:
    """A number as an INTEGER column gives it back (a whole float reads as an int)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
