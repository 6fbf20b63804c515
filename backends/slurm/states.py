"""SLURM's job state words (squeue %T or its two-letter %t, sacct, scontrol) as canonical states."""

from __future__ import annotations

from monitor.state_map import Mapped
from monitor.states import State

_SLURM: dict[str, tuple[State, bool]] = {
    # word: (state, keep the word as the reason)
    "PENDING": (State.QUEUED, False),
    "CONFIGURING": (State.QUEUED, True),
    "REQUEUED": (State.QUEUED, True),
    "REQUEUE_HOLD": (State.QUEUED, True),
    "REQUEUE_FED": (State.QUEUED, True),
    "RESV_DEL_HOLD": (State.QUEUED, True),
    "RUNNING": (State.RUNNING, False),
    "COMPLETING": (State.RUNNING, True),
    "SUSPENDED": (State.RUNNING, True),
    "STOPPED": (State.RUNNING, True),
    "RESIZING": (State.RUNNING, True),
    "SIGNALING": (State.RUNNING, True),
    "STAGE_OUT": (State.RUNNING, True),
    "COMPLETED": (State.VALIDATING, False),
    "FAILED": (State.FAILED, False),
    "TIMEOUT": (State.FAILED, True),
    "OUT_OF_MEMORY": (State.FAILED, True),
    "NODE_FAIL": (State.FAILED, True),
    "BOOT_FAIL": (State.FAILED, True),
    "DEADLINE": (State.FAILED, True),
    "PREEMPTED": (State.FAILED, True),
    "SPECIAL_EXIT": (State.FAILED, True),
    "CANCELLED": (State.CANCELLED, False),
    "REVOKED": (State.CANCELLED, True),
}

# squeue's two-letter compact codes, in case a site's squeue prints %t instead of %T.
_SLURM_SHORT = {
    "PD": "PENDING", "CF": "CONFIGURING", "RQ": "REQUEUED", "RH": "REQUEUE_HOLD", "RF": "REQUEUE_FED",
    "RD": "RESV_DEL_HOLD", "R": "RUNNING", "CG": "COMPLETING", "S": "SUSPENDED", "ST": "STOPPED",
    "RS": "RESIZING", "SI": "SIGNALING", "SO": "STAGE_OUT", "CD": "COMPLETED", "F": "FAILED",
    "TO": "TIMEOUT", "OOM": "OUT_OF_MEMORY", "NF": "NODE_FAIL", "BF": "BOOT_FAIL", "DL": "DEADLINE",
    "PR": "PREEMPTED", "SE": "SPECIAL_EXIT", "CA": "CANCELLED", "RV": "REVOKED",
}  # fmt: skip

# Pending reasons that are just the queue doing its job; anything else (JobHeldUser,
# Dependency, ReqNodeNotAvail, ...) is worth showing.
_QUIET_REASONS = frozenset({"None", "(null)", ""})


def map_slurm(word: str, reason: str | None = None) -> Mapped:
    """Map a SLURM state word ("CANCELLED by 0" is read as CANCELLED) and its reason column."""
    first = word.strip().split(" ", 1)[0].upper().rstrip("+") if word.strip() else ""
    first = _SLURM_SHORT.get(first, first)
    known = _SLURM.get(first)
    detail = reason if reason not in _QUIET_REASONS else None
    if known is None:
        return Mapped(None, f"unknown scheduler state {first or word!r}")
    state, keep_word = known
    if keep_word:
        return Mapped(state, first)
    if state is State.QUEUED:
        return Mapped(state, detail)
    return Mapped(state, None)  # a settled job's reason column is its last *pending* reason: stale
