"""What a backend's state words become: a canonical state and a reason.

Each backend maps its scheduler's words (backends/*/states.py, the backend's `map_state`); the
engine only reads the result. The scheduler's own word is kept as the reason when it says more than
the state does (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, OOMKilled, Evicted, ...). An unknown word never
crashes and never settles a job: it maps to `state=None`, meaning "keep the job's current state",
with the raw word as the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from monitor.states import State


@dataclass(frozen=True, slots=True)
class Mapped:
    state: State | None  # None: unknown word, keep the current state
    reason: str | None


Mapper = Callable[[str, str | None], Mapped]
"""A backend's mapping: (scheduler word, its reason) -> Mapped."""

DELETED = "DELETED"
"""A backend's word for a job its scheduler no longer lists while it answers (a deleted Kubernetes
Job): the outputs alone can then say whether it succeeded."""

_COMPLETED_WORDS = frozenset({"COMPLETED", "COMPLETE", "SUCCEEDED"})


def ran_to_completion(word: str | None) -> bool:
    """True when a scheduler word says the job ran to its end without error (SLURM's COMPLETED,
    a Kubernetes Job's Complete condition or its pod's Succeeded phase)."""
    return (word or "").strip().upper() in _COMPLETED_WORDS
