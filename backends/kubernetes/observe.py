"""What Jobs and their pods, as the API server lists them, say about each jobdeck task. Pure.

A task's word is its Job's when the Job has ended (Complete, Failed with its reason) or is held
(Suspended); for a task of an Indexed Job, its index in `completedIndexes` / `failedIndexes`
decides first. Otherwise the phase of the task's newest pod says where it is (Pending, Running).
The reason is the most specific word there is: the pod's (Evicted, DeadlineExceeded), its
container's (OOMKilled, ImagePullBackOff, CrashLoopBackOff), else the Job's (BackoffLimitExceeded).
backends.kubernetes.states turns the words into states.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backends.kubernetes.naming import INDEX_LABEL, JOB, JOB_NAME_LABEL, TAG, TASKS, LogRef, task_id
from monitor.model import Observation

SOURCE = "kubernetes"
_GENERIC = frozenset({None, "", "Error", "Completed"})  # container reasons that say no more than the state
_ENDED = ("Failed", "Complete")
_HELD = ("FailureTarget", "SuccessCriteriaMet", "Suspended")
MAX_INDEXES = 100_000  # the API server's limit on an Indexed Job's completions

Json = dict[str, Any]


def timestamp(text: str | None) -> float | None:
    """Epoch seconds of an RFC 3339 time as the API writes them ("2024-05-01T10:00:00Z")."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def indexes(text: str | None, below: int) -> set[int]:
    """The indexes under `below` (a Job's completions) that an index list like "1,3-5" names; a
    range beyond them in a damaged answer costs nothing."""
    found: set[int] = set()
    for part in (text or "").split(","):
        if part.strip():
            first, _, last = part.partition("-")
            found.update(range(int(first), min(int(last or first) + 1, below)))
    return found


def tasks_of(job: Json) -> list[int] | None:
    """The task index each completion index runs; None for a plain job. An Indexed Job jobdeck did
    not make (no tasks annotation) runs task i at completion index i."""
    text = (job["metadata"].get("annotations") or {}).get(TASKS)
    if text is not None:
        return [int(t) for t in text.split(",") if t]
    spec = job.get("spec") or {}
    if spec.get("completionMode") != "Indexed":
        return None
    count = int(spec.get("completions") or 0)
    if not 0 <= count <= MAX_INDEXES:
        raise ValueError(f"an Indexed Job of {count} completions")
    return list(range(count))


@dataclass(frozen=True, slots=True)
class _Ending:
    word: str | None  # Failed, Complete, FailureTarget, SuccessCriteriaMet, Suspended; None while active
    reason: str | None = None
    at: float | None = None


def _ending(status: Json) -> _Ending:
    true = {c["type"]: c for c in status.get("conditions") or [] if c.get("status") == "True"}
    for word in (*_ENDED, *_HELD):
        if word in true:
            at = timestamp(
                status.get("completionTime") if word == "Complete" else true[word].get("lastTransitionTime")
            )
            return _Ending(word, true[word].get("reason") if word != "Suspended" else None, at)
    return _Ending(None)


def job_of(pod: Json) -> str | None:
    """The name of the Job that made the pod (the job controller's label), if any."""
    owner = (pod["metadata"].get("labels") or {}).get(JOB_NAME_LABEL)
    return owner if isinstance(owner, str) and owner else None


def observe(jobs: Sequence[Json], pods: Sequence[Json]) -> dict[str, Observation]:
    """An observation for every task of every listed Job, by task ID."""
    by_job: dict[str, list[Json]] = defaultdict(list)
    for pod in pods:
        owner = job_of(pod)
        if owner:
            by_job[owner].append(pod)
    found: dict[str, Observation] = {}
    for job in jobs:
        for task in observe_job(job, by_job.get(job["metadata"]["name"], [])):
            found[task.observation.job_id] = task.observation
    return found


@dataclass(frozen=True, slots=True)
class TaskView:
    """One task of a Job: what it says (checked) and the newest pod that ran it (None before any)."""

    observation: Observation
    task: int | None  # the task an Indexed Job's completion index runs; None for a plain Job
    pod: Json | None


def _checked(obs: Observation) -> Observation:
    """The observation, when every field read from the answer has the type the API server writes;
    else ValueError (the backend reports such an answer as unreadable)."""
    texts = (obs.job_id, obs.raw_state)
    maybe_texts = (obs.name, obs.tag, obs.reason, obs.log_path)
    maybe_numbers = (obs.exit_code, obs.requeues)
    if (
        not all(isinstance(text, str) and text for text in texts)
        or not all(text is None or isinstance(text, str) for text in maybe_texts)
        or not all(n is None or (type(n) is int and n >= -(2**31) and n < 2**31) for n in maybe_numbers)
        or obs.requeues < 0
    ):
        raise ValueError(f"{obs.job_id!r}: a field of an unexpected type or value")
    return obs


def observe_job(job: Json, pods: Sequence[Json]) -> list[TaskView]:
    """Each task of the Job (one for a plain Job, one per completion index of an Indexed Job)."""
    meta, status = job["metadata"], job.get("status") or {}
    annotations = meta.get("annotations") or {}
    ending = _ending(status)
    common = {
        "name": annotations.get(JOB),
        "tag": annotations.get(TAG),
        "submit_time": timestamp(meta.get("creationTimestamp")),
        "source": SOURCE,
    }
    tasks = tasks_of(job)
    if tasks is None:
        return [_task(meta["name"], None, ending, None, pods, status.get("startTime"), common)]
    done, failed = (indexes(status.get(key), len(tasks)) for key in ("completedIndexes", "failedIndexes"))
    by_index: dict[int, list[Json]] = defaultdict(list)
    for pod in pods:
        index = (pod["metadata"].get("labels") or {}).get(INDEX_LABEL)
        if index is not None and index.isdigit():
            by_index[int(index)].append(pod)
    views = []
    for position, task in enumerate(tasks):
        verdict = "Complete" if position in done else "Failed" if position in failed else None
        views.append(
            _task(meta["name"], task, ending, verdict, by_index[position], status.get("startTime"), common)
        )
    return views


def _task(
    job: str,
    task: int | None,
    ending: _Ending,
    verdict: str | None,
    pods: Sequence[Json],
    job_start: str | None,
    common: dict[str, Any],
) -> TaskView:
    """One task from its index's verdict (Indexed Jobs), its Job's ending, and its newest pod."""
    pod = _newest(pods)
    pod_status = pod["status"] if pod else {}
    container = _main_container(pod) if pod else {}
    state = container.get("state") or {}
    ended, waiting = state.get("terminated") or {}, state.get("waiting") or {}
    specific = pod_status.get("reason") or ended.get("reason") or waiting.get("reason")
    word = verdict or ending.word
    exit_code = ended.get("exitCode")
    if word == "Complete":
        reason, exit_code = None, exit_code or 0
    elif word == "Failed" and verdict is None:  # the whole Job failed: its reason unless the pod says more
        reason = specific if specific not in _GENERIC else ending.reason or specific
    elif word == "Failed":  # this index failed: what its pod says
        reason = specific or ending.reason
    elif word is not None:  # held: Suspended, or the controller decided and pods are terminating
        reason, exit_code = ending.reason, None
    else:
        phase = pod_status.get("phase", "Pending")
        undecided = phase not in (
            "Pending",
            "Running",
            "Unknown",
        )  # the pod ended; the job controller decides
        word = "Running" if undecided else phase
        reason, exit_code = waiting.get("reason") or _unscheduled(pod_status), None
    settled = word in _ENDED
    log = (
        LogRef(pod["metadata"]["namespace"], pod["metadata"]["name"], container["name"])
        if pod and container
        else None
    )
    observation = Observation(
        job_id=task_id(job, task),
        raw_state=word,
        reason=reason,
        exit_code=exit_code,
        start_time=timestamp(pod_status.get("startTime") or job_start),
        end_time=(timestamp(ended.get("finishedAt")) or ending.at) if settled else None,
        requeues=max(0, len(pods) - 1) + container.get("restartCount", 0),
        log_path=str(log) if log else None,
        **common,
    )
    return TaskView(_checked(observation), task, pod)


def _newest(pods: Sequence[Json]) -> Json | None:
    def age(pod: Json) -> tuple[str, int]:
        version = pod["metadata"].get("resourceVersion", "")
        return pod["metadata"].get("creationTimestamp", ""), int(version) if version.isdigit() else 0

    return max(pods, key=age, default=None)


def _main_container(pod: Json) -> Json:
    """The status of the pod's first container (the one jobdeck filled in)."""
    containers = pod.get("spec", {}).get("containers") or []
    name = containers[0]["name"] if containers else None
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return next((c for c in statuses if c.get("name") == name), {"name": name} if name else {})


def _unscheduled(pod_status: Json) -> str | None:
    for condition in pod_status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return condition.get("reason")
    return None
