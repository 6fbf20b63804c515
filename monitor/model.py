"""Value types shared by the engine, the backends and the store.

Times are epoch seconds (float, UTC) everywhere; only views format them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from monitor.states import State

TAG_PREFIX = "jobdeck:"
"""Every submission's tag (SLURM comment, Kubernetes annotation) starts so: a job carrying one was
submitted by a jobdeck, never resubmitted by hand."""


@dataclass(frozen=True, slots=True)
class JobKey:
    """A logical job: a name in a session, and the array index for one task of an array."""

    session: str
    name: str
    task: int | None = None

    def __str__(self) -> str:
        suffix = f"[{self.task}]" if self.task is not None else ""
        return f"{self.session}/{self.name}{suffix}"


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """When the controller restarts a failed job by itself (issue-level detail lives in monitor.policies)."""

    on: tuple[str, ...] = ()  # scheduler reasons (TIMEOUT, NODE_FAIL, ...) or "exit:N"
    max_attempts: int = 1
    backoff: float = 0.0  # seconds before the next attempt
    requeue: bool = False  # prefer `scontrol requeue` while the controller still holds the job


@dataclass(frozen=True, slots=True)
class OutputCheck:
    """An expected output path (template already expanded for the task) and how strictly to check it."""

    path: str
    non_empty: bool = False
    min_size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything needed to submit one logical job again, stored with it: parameters travel as
    explicit arguments, never through inherited environment variables."""

    cluster: str
    script: str  # absolute path on the cluster
    workdir: str  # absolute path on the cluster
    args: tuple[str, ...] = ()  # explicit command-line arguments of this task, templates expanded
    options: tuple[str, ...] = ()  # extra scheduler options, e.g. ("--time=1",)
    array: str | None = None  # the whole job's array expression ("0-4"); None for a plain job
    log: str | None = None  # log path template (%j %x %A %a), absolute
    err: str | None = None  # stderr template; None means stderr goes to the log
    outputs: tuple[OutputCheck, ...] = ()  # {attempt} is still unexpanded here
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    extra: dict[str, Any] = field(default_factory=dict)  # backend-specific (e.g. Kubernetes image)
    markers: tuple[str, ...] = ()  # regular expressions: each matching log line is recorded as an event
    after: tuple[str, ...] = ()  # logical jobs that must be SUCCEEDED (after validation) first
    stage: tuple[int, int] | None = None  # (index, count) in a generated series ("stage 7/20")
    chain: str | None = None  # the series a generated stage belongs to (its `repeat` job's name)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One task of a submission: its array index (None for a plain job) and its explicit arguments."""

    index: int | None
    args: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """One call to the scheduler: a plain job, or an array of the listed tasks only."""

    session: str
    name: str  # logical job name; the scheduler's job name
    tag: str  # unique per submission; stored in --comment / a label so it can be found again
    script: str  # absolute path on the cluster
    workdir: str
    tasks: tuple[TaskSpec, ...]
    is_array: bool
    log: str | None = None  # template, absolute
    err: str | None = None
    options: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What the scheduler answered: the base ID and each task's own ID."""

    job_id: str  # "123"
    task_ids: dict[int | None, str]  # {None: "123"} or {0: "123_0", 3: "123_3"}
    command: str  # the command that was run, shell-quoted, for the event log


@dataclass(frozen=True, slots=True)
class Observation:
    """What one scheduler source said about one job or array task at one poll."""

    job_id: str  # as users see it: "123" or "123_4"
    raw_state: str  # the scheduler's word, first word only ("CANCELLED", not "CANCELLED by 0")
    raw_id: str | None = None  # the scheduler's unique ID of a task (SLURM JobIDRaw, %j in log names)
    name: str | None = None
    tag: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    submit_time: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    requeues: int = 0
    log_path: str | None = None  # when the scheduler knows it resolved
    source: str = ""  # "squeue", "sacct", "scontrol", "local", "kubernetes"


@dataclass(frozen=True, slots=True)
class PollReport:
    """The answer to one poll of one cluster. Jobs absent from `observations` were found nowhere."""

    observations: dict[str, Observation]
    commands: tuple[str, ...] = ()  # scheduler commands run, for "be kind to the controller" counts
    finished_source: bool = True  # False when no source for finished jobs answered (accounting off
    # and scontrol failed): absence then proves even less, and nothing may become LOST
    notices: tuple[str, ...] = ()  # about the connection, said once (no command agent on the host)


@dataclass(frozen=True, slots=True)
class PathStat:
    """An output file as found on the cluster (None in a result means it does not exist)."""

    size: int
    mtime: float
    sha256: str | None = None


def read_range(offset: int, limit: int, size: int) -> tuple[int, int]:
    """Where a read of `limit` bytes from `offset` starts, and how many bytes it may take, in a file
    of `size` bytes. A negative offset counts from the end and the read stops at `size`, so opening
    a log's tail is one read whose data ends where the size says."""
    if offset >= 0:
        return offset, max(0, limit)
    start = max(0, size + offset)
    return start, max(0, min(limit, size - start))


@dataclass(frozen=True, slots=True)
class ReadChunk:
    """Bytes of a file from an offset, its size when read, and its identity ("device:inode"), so a
    file replaced by another of the same name is noticed whatever its size."""

    data: bytes
    size: int
    identity: str | None
    error: str | None = None  # why the file could not be read (permission denied, a directory): no data


@dataclass(frozen=True, slots=True)
class LogOffset:
    """How far one reader (`stream`) got in an attempt's log, stored with what it found there."""

    attempt: int  # the attempt's number within its job (1-based)
    stream: str  # "stdout" and "stderr" for the viewer, "markers" for the marker scanner
    path: str
    offset: int
    identity: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One submission of a logical job, with its own scheduler ID and fate. Frozen, as Job: caches
    keep the objects they were handed (see Job)."""

    number: int  # 1-based
    job_id: str | None
    state: State
    kind: str = "submit"  # submit | restart | resume | requeue | adopt
    raw_state: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    submit_time: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    log_path: str | None = None
    err_path: str | None = None
    requeues: int = 0
    submission_id: int | None = None
    log_size: int | None = None
    log_grew_at: float | None = None  # when the log last grew (for the stalled-log warning)
    id: int | None = None  # store row id


@dataclass(frozen=True, slots=True)
class Job:
    """A logical job or array task and its attempts, oldest first. Frozen: the store's job cache,
    the poll's memories and the TUI's row cache keep the objects they were handed and tell a
    changed job by its being another object; a change is a new Job (dataclasses.replace,
    apply_update)."""

    session: str
    name: str
    task: int | None
    cluster: str
    state: State
    spec: JobSpec
    reason: str | None = None
    exit_code: int | None = None
    attempts: tuple[Attempt, ...] = ()
    updated_at: float = 0.0
    missing_since: float | None = None  # first poll at which no source knew the current attempt
    outputs_verified: int | None = None
    outputs_expected: int | None = None
    id: int | None = None  # store row id

    @property
    def key(self) -> JobKey:
        return JobKey(self.session, self.name, self.task)

    @property
    def current(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def job_id(self) -> str | None:
        return self.current.job_id if self.current else None


@dataclass(frozen=True, slots=True)
class Event:
    """A state change or action, with its time and cause, kept forever in the store."""

    at: float
    kind: str  # state | submit | cancel | validate | warning | ...
    message: str
    from_state: State | None = None
    to_state: State | None = None
    job: JobKey | None = None
    attempt: int | None = None


class Keep:
    """The value of an AttemptPatch field that leaves the stored value alone (None clears it)."""

    _instance: Keep | None = None

    def __new__(cls) -> Keep:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "KEEP"


KEEP = Keep()


@dataclass(frozen=True, slots=True)
class AttemptPatch:
    """Fields of the current attempt to overwrite: KEEP leaves a field as stored, None clears it."""

    raw_state: str | Keep | None = KEEP
    state: State | Keep = KEEP
    reason: str | Keep | None = KEEP
    exit_code: int | Keep | None = KEEP
    submit_time: float | Keep | None = KEEP
    start_time: float | Keep | None = KEEP
    end_time: float | Keep | None = KEEP
    requeues: int | Keep = KEEP
    log_path: str | Keep | None = KEEP
    log_size: int | Keep | None = KEEP
    log_grew_at: float | Keep | None = KEEP

    def changes(self) -> dict[str, Any]:
        """The fields this patch sets (to a value or to None)."""
        return {name: value for name in self.__slots__ if (value := getattr(self, name)) is not KEEP}


def apply_update(
    job: Job,
    update: JobUpdate,
    updated_at: float | None = None,
    stored: Callable[[str, Any], Any] | None = None,
) -> Job:
    """`job` as it reads once `update` is stored (with `updated_at`, the time it is stored at): what
    a poll's later steps see before the store has it, and what the store keeps without reading the
    job back (store.written, whose `stored` gives a field's value as SQLite gives it back)."""
    attempts = job.attempts
    if update.new_attempt is not None:
        attempts = (*attempts, replace(update.new_attempt, number=len(attempts) + 1))
    if update.attempt is not None and attempts:
        changes = update.attempt.changes()
        if stored is not None:
            changes = {name: stored(name, value) for name, value in changes.items()}
        attempts = (*attempts[:-1], replace(attempts[-1], **changes))
    exit_code = update.exit_code if stored is None else stored("exit_code", update.exit_code)
    if update.clear_missing:
        missing = None
    elif update.missing_since is None:
        missing = job.missing_since
    else:
        missing = update.missing_since if stored is None else stored("missing_since", update.missing_since)
    return Job(  # every field, in order: faster than replace() for the 10,000 jobs of a first poll
        job.session, job.name, job.task, job.cluster, update.state, job.spec, update.reason, exit_code,
        attempts, job.updated_at if updated_at is None else updated_at, missing, job.outputs_verified,
        job.outputs_expected, job.id,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class OutputStatus:
    """The result of checking one expected output."""

    path: str
    present: bool
    problem: str | None = None  # "missing", "empty", "smaller than N bytes", "checksum differs"
    size: int | None = None


@dataclass(frozen=True, slots=True)
class JobUpdate:
    """The outcome of reconciling one job with a poll: written in the poll's single transaction."""

    job_db_id: int
    state: State
    reason: str | None
    exit_code: int | None
    attempt: AttemptPatch | None = None
    missing_since: float | None = None
    clear_missing: bool = False
    outputs: tuple[OutputStatus, ...] | None = None  # set when outputs were checked
    new_attempt: Attempt | None = None  # found outside jobdeck (by name): added before `attempt` applies
    events: tuple[Event, ...] = ()
    log_offsets: tuple[LogOffset, ...] = ()  # how far the events' source logs were read, upserted with them


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """A row of the sessions list: counts per state and the last activity."""

    name: str
    manifest_path: str | None
    created_at: float
    last_activity: float
    counts: dict[State, int]
    last_cycle_at: float | None = None  # when a monitor last completed a whole cycle
    last_cycle_by: str | None = None
    lease: Lease | None = None  # the monitor acting for the session now, if its lease runs

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class Submission:
    """One call to the scheduler, written as an intent before it is sent (intent before
    action: after a crash it is settled by its tag, never sent twice)."""

    id: int
    session: str
    job_name: str
    kind: str  # submit | restart | resume
    tag: str
    cluster: str
    tasks: tuple[int | None, ...]
    status: str  # intent | submitted | rejected
    created_at: float
    command: str | None = None
    scheduler_id: str | None = None
    error: str | None = None
    parent_id: int | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    """Who acts for a session: one monitor holds it and renews it at every poll."""

    holder: str
    acquired_at: float
    renewed_at: float
    expires_at: float
