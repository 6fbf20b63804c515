"""The one place where scheduler words become canonical states.

Every SLURM job state and every Kubernetes condition and pod phase maps to a State plus a reason.
The scheduler's own word is kept as the reason when it says more than the state does (TIMEOUT,
OUT_OF_MEMORY, NODE_FAIL, OOMKilled, Evicted, ...). An unknown word never crashes and never settles a job:
it maps to `state=None`, meaning "keep the job's current state", with the raw word as the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.states import State


@dataclass(frozen=True, slots=True)
class Mapped:
    state: State | None  # None: unknown word, keep the current state
    reason: str | None


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


# Kubernetes words, as the backend reports them: a Job condition (Complete, Failed, Suspended, ...),
# else the phase of the task's newest pod, else DELETED (the list no longer shows the Job). Keyed in
# lower case: the API writes them in CamelCase. None: a known word that says nothing about the job.
_KUBERNETES: dict[str, State | None] = {
    "pending": State.QUEUED,
    "suspended": State.QUEUED,
    "running": State.RUNNING,
    "failuretarget": State.RUNNING,  # the job controller decided; pods are still terminating
    "successcriteriamet": State.RUNNING,
    "succeeded": State.VALIDATING,
    "complete": State.VALIDATING,
    "deleted": State.VALIDATING,  # gone from the API server: the outputs decide
    "failed": State.FAILED,
    "unknown": None,  # the pod's node stopped reporting
}
_KUBERNETES_QUIET = frozenset({"", "containercreating", "podinitializing", "completed"})
DELETED = "DELETED"
"""The Kubernetes backend's word for a Job the API server no longer lists while it answers."""
DELETED_REASON = "deleted from the API server"


def map_kubernetes(word: str, reason: str | None = None) -> Mapped:
    """Map a Kubernetes word and its reason (BackoffLimitExceeded, OOMKilled, Evicted,
    ImagePullBackOff, CrashLoopBackOff, ...): the reason is kept whenever it says something."""
    key = word.strip().lower()
    if key not in _KUBERNETES:
        return Mapped(None, f"unknown Kubernetes state {word.strip()!r}")
    state = _KUBERNETES[key]
    if key == "deleted":
        return Mapped(state, DELETED_REASON)
    if key in ("suspended", "failuretarget", "successcriteriamet", "unknown"):
        return Mapped(state, reason or word.strip())
    return Mapped(state, reason if (reason or "").lower() not in _KUBERNETES_QUIET else None)


_COMPLETED_WORDS = frozenset({"COMPLETED", "COMPLETE", "SUCCEEDED"})


def ran_to_completion(word: str | None) -> bool:
    """True when a scheduler word says the job ran to its end without error (SLURM's COMPLETED,
    a Kubernetes Job's Complete condition or its pod's Succeeded phase)."""
    return (word or "").strip().upper() in _COMPLETED_WORDS


def mapper_for(kind: str):
    """The mapping function for a backend kind; the local backend speaks SLURM's words."""
    if kind in ("slurm", "local"):
        return map_slurm
    if kind == "kubernetes":
        return map_kubernetes
    raise ValueError(f"no state mapping for backend kind {kind!r}")
