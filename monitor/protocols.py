"""What the engine needs from a scheduler backend. Backends implement it; the engine never imports them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from monitor.adoption import Captured
from monitor.model import (
    Job,
    JobSpec,
    JobUpdate,
    Lease,
    LogOffset,
    OutputStatus,
    PathStat,
    PollReport,
    ReadChunk,
    Submission,
    SubmitRequest,
    SubmitResult,
)
from monitor.queue import QueueLister
from monitor.state_map import Mapped
from monitor.states import State


class Requeuer(Protocol):
    """An optional capability: put a job back in the queue under its own scheduler ID."""

    async def requeue(self, job_id: str) -> None:
        """Raises SchedulerRejected when the scheduler no longer holds the job."""
        ...


class Adopter(Protocol):
    """An optional capability: read back how a job submitted outside jobdeck was submitted (its
    batch script, arguments, work dir, logs and options) and keep its script where a restart finds it."""

    async def capture(self, job_id: str) -> Captured:
        """Raises SchedulerRejected, in one line naming the job, for a job the scheduler does not
        know or one of another user."""
        ...


class TailReader(Protocol):
    """An optional capability, for logs that do not outlive their job (a Kubernetes pod's): the
    last lines of a log, so the store can keep a copy."""

    async def read_tail(self, path: str, lines: int) -> bytes:
        """The last `lines` lines; FileNotFoundError when nothing is left to read."""
        ...


class Backend(Protocol):
    """One cluster. Every method has its own timeout and raises BackendUnavailable when the scheduler
    or the connection does not answer (no state may change because of that), SchedulerRejected when
    the scheduler answered with a refusal."""

    cluster: str
    kind: str  # "slurm", "local", "kubernetes"

    @property
    def requeuer(self) -> Requeuer | None:
        """The backend itself when it can requeue (restart policies with `requeue` use it), else None."""
        ...

    @property
    def queue_lister(self) -> QueueLister | None:
        """The backend itself when it can list every job of the user ("My jobs", `jobdeck queue`),
        else None."""
        ...

    @property
    def adopter(self) -> Adopter | None:
        """What captures how a job of the user was submitted (`jobdeck adopt`), else None."""
        ...

    @property
    def tail_reader(self) -> TailReader | None:
        """The backend itself when its logs go away with its jobs (monitor.log_copies keeps copies),
        else None."""
        ...

    def map_state(self, word: str, reason: str | None = None) -> Mapped:
        """The canonical state of one of this scheduler's words (see monitor.state_map): each
        backend owns its vocabulary."""
        ...

    def describe_submit(self, request: SubmitRequest) -> str:
        """The exact command (or object) a submit would send: the dry-run text."""
        ...

    async def submit(self, request: SubmitRequest) -> SubmitResult: ...

    async def poll(self, job_ids: Sequence[str], since: float | None) -> PollReport:
        """One cheap query for all `job_ids` (IDs as in Observation.job_id); `since` bounds
        accounting queries (the earliest submit time among them)."""
        ...

    async def find(self, names: Sequence[str], tags: Sequence[str], since: float) -> PollReport:
        """Jobs (queued or finished since `since`) whose scheduler name is one of `names` or whose
        tag is one of `tags`: how a re-attach recognises resubmissions and settles intents."""
        ...

    async def cancel(self, job_ids: Sequence[str]) -> Sequence[str] | None:
        """Ask the scheduler to stop the jobs. Returns the IDs whose cancel is already final and
        that no poll will ever see end (a deleted Kubernetes Job); None: the next poll tells."""
        ...

    async def stat_paths(self, paths: Sequence[str], checksum: bool = False) -> dict[str, PathStat | None]:
        """All paths in one batched operation; None for a path that does not exist."""
        ...

    async def read_bytes(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        """Up to `limit` bytes of `path` from `offset`, and the file's current size.
        Raises FileNotFoundError / PermissionError for a missing or unreadable file."""
        ...

    async def read_many(self, requests: Sequence[tuple[str, int, int]]) -> dict[str, ReadChunk | None]:
        """(path, offset, limit) for several files, one path each, in one batched operation: up to
        `limit` bytes from `offset`, with the size and identity of the very file read. A negative
        offset counts from the end (monitor.model.read_range): the data then ends at the size. None
        for a missing file; a ReadChunk with `error` for one that cannot be read."""
        ...

    async def close(self) -> None: ...


class SessionStorage(Protocol):
    """The store as the controller uses it (implemented by store.session_store.SessionStore)."""

    async def session_id(self, name: str) -> int: ...

    async def session_manifest(self, name: str) -> tuple[str | None, dict[str, Any]]: ...

    async def ensure_session(
        self, name: str, manifest_path: str | None, manifest: dict[str, Any], now: float
    ) -> int: ...

    async def add_jobs(
        self, session_id: int, definitions: Iterable[tuple[str, int | None, JobSpec]], now: float
    ) -> int: ...

    async def jobs(
        self,
        session: str | None = None,
        states: Iterable[State] | None = None,
        ids: Iterable[int] | None = None,
    ) -> list[Job]: ...

    async def record_intent(
        self,
        session_id: int,
        job_name: str,
        kind: str,
        tag: str,
        cluster: str,
        jobs: Sequence[Job],
        command: str,
        now: float,
        parent_id: int | None = None,
    ) -> int: ...

    async def confirm_submission(
        self,
        submission_id: int,
        result: SubmitResult,
        attempts: Sequence[tuple[Job, str | None, str | None]],
        now: float,
    ) -> None: ...

    async def reject_submission(
        self, submission_id: int, message: str, now: float, reason: str = ..., status: str = ...
    ) -> None: ...

    async def apply_updates(self, updates: Sequence[JobUpdate], now: float) -> None: ...

    async def log_offsets(self, job_db_ids: Iterable[int], stream: str) -> dict[tuple[int, int], LogOffset]:
        """The stored offsets of `stream` by (job row id, attempt number)."""
        ...

    async def outputs(self, job_db_id: int) -> list[OutputStatus]: ...

    async def known_scheduler_ids(self) -> set[str]: ...

    async def open_intents(self, session: str) -> list[Submission]: ...

    async def claim_lease(
        self, session: str, holder: str, now: float, ttl: float, replace: str | None = None
    ) -> Lease: ...

    async def release_lease(self, session: str, holder: str) -> None: ...

    async def log_copies_due(
        self, session: str, clusters: Sequence[str], limit: int
    ) -> list[tuple[int, str, str]]:
        """(attempt row id, cluster, log path) of finished attempts on `clusters` with no log copy yet."""
        ...

    async def save_log_copy(self, attempt_id: int, stream: str, data: bytes | None, now: float) -> None:
        """Keep the copy (None: the log was already gone, so it is never asked for again)."""
        ...

    async def record_cycle(self, session: str, holder: str, at: float) -> None: ...
