"""The state of an array (or any group of tasks) as a whole."""

from __future__ import annotations

from collections.abc import Iterable

from monitor.states import State

_ACTIVE_ORDER = (State.RUNNING, State.VALIDATING, State.QUEUED, State.SUBMITTING)


def aggregate_state(states: Iterable[State]) -> State:
    """Active while any task is active (the most advanced activity shows); once all have settled,
    SUCCEEDED only if every task succeeded, PARTIAL if some did, else the common failure."""
    seen = set(states)
    if not seen:
        return State.PENDING
    for state in _ACTIVE_ORDER:
        if state in seen:
            return state
    if seen == {State.SUCCEEDED}:
        return State.SUCCEEDED
    if seen & {State.SUCCEEDED, State.PARTIAL}:
        return State.PARTIAL
    if State.PENDING in seen:
        return State.PENDING
    for state in (State.LOST, State.FAILED, State.CANCELLED):
        if state in seen:
            return state
    return State.FAILED
