"""Every Job of a namespace as "My jobs" lists it: each Job (each completion index of an Indexed
Job, an array) becomes a QueueEntry with the facts its Job and newest pod state. Pure.

The state and reason are the ones a session's poll derives (observe.observe_job, states.map_kubernetes),
so a Job reads the same in "My jobs" as in its session. The resources are the pod template's
containers' requests (else limits), summed as the scheduler sums them for a pod. A Job the answer
does not describe as the API server writes it is left out and named, never the whole listing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from kubernetes.utils.quantity import parse_quantity

from backends.kubernetes.naming import TAG
from backends.kubernetes.observe import Json, TaskView, job_of, observe_job, tasks_of
from backends.kubernetes.states import map_kubernetes
from monitor.queue import QueueEntry, queue_state
from monitor.states import TERMINAL

GPU = "nvidia.com/gpu"
_UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError, ArithmeticError)


def queue_entries(
    cluster: str, jobs: Sequence[Json], pods: Sequence[Json], history_since: float
) -> tuple[list[QueueEntry], list[str]]:
    """The entries of every listed Job but those that ended before `history_since`, and one line
    for each Job or pod that could not be read."""
    by_job: dict[str, list[Json]] = defaultdict(list)
    problems: list[str] = []
    for pod in pods:
        try:
            owner = job_of(pod)
        except _UNREADABLE as exc:
            problems.append(f"pod {_name_of(pod)}: {_unreadable(exc)}")
            continue
        if owner:
            by_job[owner].append(pod)
    entries: list[QueueEntry] = []
    for job in jobs:
        try:
            found = job_entries(cluster, job, by_job.get(job["metadata"]["name"], []))
        except _UNREADABLE as exc:
            problems.append(f"Job {_name_of(job)}: {_unreadable(exc)}")
            continue
        if not _ended_before(found, history_since):
            entries.extend(found)
    return entries, problems


def job_entries(cluster: str, job: Json, pods: Sequence[Json]) -> list[QueueEntry]:
    """One entry per task of the Job: the Job itself, or each index of an Indexed Job."""
    spec = job.get("spec") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    containers = template.get("containers") or []
    resources = [c.get("resources") or {} for c in containers]
    cpus = _total(resources, "cpu")
    gpus = _total(resources, GPU)
    memory = _total(resources, "memory")
    deadline = spec.get("activeDeadlineSeconds")
    facts: dict[str, Any] = {
        "cpus": None if cpus is None else math.ceil(cpus),
        "gpus": None if gpus is None else math.ceil(gpus),
        "req_mem": None if memory is None else math.ceil(memory),
        "time_limit": None if deadline is None else float(_bounded(Decimal(deadline))),
        "workdir": _text(containers[0].get("workingDir")) if containers else None,
        "tag": _text((job["metadata"].get("annotations") or {}).get(TAG)),
    }
    array = job["metadata"]["name"] if tasks_of(job) is not None else None
    return [_entry(cluster, job, view, array, facts) for view in observe_job(job, pods)]


def _entry(cluster: str, job: Json, view: TaskView, array: str | None, facts: dict[str, Any]) -> QueueEntry:
    obs = view.observation
    mapped = map_kubernetes(obs.raw_state, obs.reason)
    state = queue_state(mapped, obs.exit_code)
    pod_spec = (view.pod or {}).get("spec") or {}
    priority = pod_spec.get("priority")
    node = _text(pod_spec.get("nodeName"))
    return QueueEntry(
        cluster=cluster,
        job_id=obs.job_id,
        name=obs.name or job["metadata"]["name"],
        state=state,
        scheduler_state=obs.raw_state,
        reason=mapped.reason,
        exit_code=obs.exit_code,
        array_id=array,
        task=view.task,
        nodes=node,
        node_count=1 if node else None,
        priority=None if priority is None else int(_bounded(Decimal(priority))),
        submit_time=obs.submit_time,
        start_time=obs.start_time,
        end_time=obs.end_time,
        elapsed=_elapsed(state in TERMINAL, obs.start_time, obs.end_time),
        log_path=obs.log_path,
        requeues=obs.requeues,
        **facts,
    )


def _elapsed(finished: bool, start: float | None, end: float | None) -> float | None:
    """Seconds a finished task ran; a running one's is counted from its start by the view."""
    return max(0.0, end - start) if finished and start is not None and end is not None else None


def _total(resources: Sequence[Json], key: str) -> Decimal | None:
    """The containers' request for `key` (else their limit), summed; None when none asks."""
    asked = [r.get("requests", {}).get(key) or r.get("limits", {}).get(key) for r in resources]
    quantities = [_bounded(parse_quantity(q)) for q in asked if q is not None]
    return sum(quantities, Decimal(0)) if quantities else None


def _bounded(value: Decimal) -> Decimal:
    """A finite quantity that fits in 64 bits (an API server writes no other); else ValueError."""
    if not value.is_finite() or not -(2**63) < value < 2**63:
        raise ValueError(f"a quantity out of range: {value}")
    return value


def _text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"not a text: {value!r}")
    return value or None


def _ended_before(entries: Sequence[QueueEntry], since: float) -> bool:
    """True for a Job whose every task finished before `since`."""
    return bool(entries) and all(e.finished and (e.end_time or e.submit_time or 0.0) < since for e in entries)


def _unreadable(exc: Exception) -> str:
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
    return f"an answer jobdeck cannot read ({detail})"


def _name_of(item: Any) -> str:
    try:
        return repr(item["metadata"]["name"])
    except _UNREADABLE:
        return "without a name"
