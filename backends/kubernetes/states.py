"""Kubernetes' words as canonical states: Job conditions, pod phases and DELETED."""

from __future__ import annotations

from monitor.state_map import Mapped
from monitor.states import State

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
