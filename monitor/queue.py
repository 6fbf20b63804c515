"""The user's whole queue, manifest or not: what "My jobs" shows and `jobdeck queue` prints.

A backend that can list every job of the user (`Backend.queue_lister`) answers with QueueEntry
values: the scheduler's own facts about each job or array task (partition, nodes, TRES, time limit,
priority; after the job, its use of what it asked for), read from the same calls that tell its
state. Nothing here is stored: the queue is the scheduler's truth of the moment, and a job of a
session keeps its session's history in the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from monitor.state_map import Mapped
from monitor.states import TERMINAL, State

DEFAULT_HISTORY_HOURS = 24.0
"""How far back finished jobs are listed unless the config or `--since` says otherwise."""


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One job or array task of the user as its scheduler sees it now. Times are epoch seconds;
    sizes are bytes; None where the scheduler does not say."""

    cluster: str
    job_id: str  # as users see it: "123", "123_4" (Observation.job_id); a Kubernetes Job's name
    name: str
    state: State  # canonical (queue_state): a finished job is SUCCEEDED or FAILED by its exit code
    scheduler_state: str  # the scheduler's own word: RUNNING, PENDING, COMPLETED, OOMKilled ...
    reason: str | None = None  # the pending reason, or why it ended
    exit_code: int | None = None
    signal: int | None = None
    array_id: str | None = None  # the array's base ID for an array task (groups its tasks)
    task: int | None = None  # the array task index
    partition: str | None = None
    nodes: str | None = None  # the node list once placed (a Kubernetes pod's node)
    node_count: int | None = None
    cpus: int | None = None
    gpus: int | None = None
    time_limit: float | None = None  # seconds; None when unlimited or not said
    priority: int | None = None
    submit_time: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    elapsed: float | None = None  # as accounting says for a finished job; else from start_time
    cpu_efficiency: float | None = None  # TotalCPU / (Elapsed x AllocCPUS), 0..1; finished jobs
    max_rss: int | None = None  # bytes; finished jobs
    req_mem: int | None = None  # bytes asked for (the whole job's)
    workdir: str | None = None
    log_path: str | None = None
    err_path: str | None = None
    tag: str | None = None  # SLURM comment / jobdeck annotation: a jobdeck submission's tag
    requeues: int = 0
    session: str | None = None  # the jobdeck session the job belongs to, set by the view

    @property
    def key(self) -> str:
        """Unique in the whole queue: the row key of the table."""
        return f"{self.cluster}/{self.job_id}"

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def elapsed_at(self, now: float) -> float | None:
        """Seconds run: accounting's figure once finished, else counted from the start."""
        if self.elapsed is not None and (self.finished or self.start_time is None):
            return self.elapsed
        if self.start_time is None:
            return None
        end = self.end_time if self.finished and self.end_time else now
        return max(0.0, end - self.start_time)

    def time_left_at(self, now: float) -> float | None:
        """Seconds before the time limit ends a running job; None when not running or unlimited."""
        if self.time_limit is None or self.start_time is None or self.finished:
            return None
        return max(0.0, min(self.time_limit, self.start_time + self.time_limit - now))


@dataclass(frozen=True, slots=True)
class QueueReport:
    """One listing of one cluster's queue."""

    cluster: str
    entries: tuple[QueueEntry, ...]
    commands: tuple[str, ...] = ()  # scheduler commands run ("squeue", "sacct", "list jobs" ...)
    history: bool = True  # False when finished jobs could not be listed (accounting off or down)
    notices: tuple[str, ...] = ()  # said once: about the connection or a source that did not answer


class QueueLister(Protocol):
    """An optional backend capability: every job of the user on the cluster, live and recent."""

    async def list_queue(self, history_since: float) -> QueueReport:
        """The jobs in the queue and those that finished since `history_since` (epoch seconds):
        one query of the queue per call (SLURM: `squeue --me`; Kubernetes: one list of Jobs and
        one of pods); finished jobs from accounting, asked again only when jobs left the queue.
        Raises BackendUnavailable when the scheduler or the connection does not answer."""
        ...


def queue_state(mapped: Mapped, exit_code: int | None) -> State:
    """The canonical state of a job no manifest declares outputs for: the scheduler's word
    decides, and a job that ran to its end is SUCCEEDED with exit code 0 (or none said), else
    FAILED. An unknown word is QUEUED while it may still run."""
    state = mapped.state
    if state is None:
        return State.QUEUED
    if state is State.VALIDATING:
        return State.SUCCEEDED if not exit_code else State.FAILED
    return state
