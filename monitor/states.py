"""The canonical job states every backend is mapped onto."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    PENDING = "PENDING"  # defined in a manifest, never submitted
    SUBMITTING = "SUBMITTING"  # intent written, scheduler answer not yet recorded
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    VALIDATING = "VALIDATING"  # the scheduler said it completed; outputs decide the rest
    SUCCEEDED = "SUCCEEDED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    LOST = "LOST"  # no record anywhere after a grace period; never restarted automatically


TERMINAL = frozenset({State.SUCCEEDED, State.PARTIAL, State.FAILED, State.CANCELLED, State.LOST})
IN_SCHEDULER = frozenset({State.SUBMITTING, State.QUEUED, State.RUNNING})
"""States in which the scheduler is asked about the job at every poll."""


def parse_state(word: str) -> State:
    """Accept a state word in any case (CLI filters, stored rows); raise ValueError naming the choices."""
    try:
        return State(word.strip().upper())
    except ValueError:
        choices = ", ".join(s.value.lower() for s in State)
        raise ValueError(f"unknown state {word!r} (expected one of: {choices})") from None
