"""What the engine needs from a scheduler backend. Backends implement it; the engine never imports them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from monitor.model import PathStat, PollReport, SubmitRequest, SubmitResult


class Backend(Protocol):
    """One cluster. Every method has its own timeout and raises BackendUnavailable when the scheduler
    or the connection does not answer (no state may change because of that), SchedulerRejected when
    the scheduler answered with a refusal."""

    cluster: str
    kind: str  # "slurm", "local", "kubernetes"

    def describe_submit(self, request: SubmitRequest) -> str:
        """The exact command (or object) a submit would send: the dry-run text."""
        ...

    async def submit(self, request: SubmitRequest) -> SubmitResult: ...

    async def poll(self, job_ids: Sequence[str], since: float | None) -> PollReport:
        """One cheap query for all `job_ids` (IDs as in Observation.job_id); `since` bounds
        accounting queries (the earliest submit time among them)."""
        ...

    async def cancel(self, job_ids: Sequence[str]) -> None: ...

    async def stat_paths(self, paths: Sequence[str], checksum: bool = False) -> dict[str, PathStat | None]:
        """All paths in one batched operation; None for a path that does not exist."""
        ...

    async def read_bytes(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        """Up to `limit` bytes of `path` from `offset`, and the file's current size.
        Raises FileNotFoundError / PermissionError for a missing or unreadable file."""
        ...

    async def close(self) -> None: ...
