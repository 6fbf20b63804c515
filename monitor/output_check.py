"""Checking expected outputs where they live, in batches (one backend call per batch, never one per
file), with progress for the TUI. A check that cannot run changes no job's state."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from monitor.model import Job, JobUpdate, PathStat
from monitor.protocols import Backend
from monitor.validation import ValidationSettings, judge, plan_checks

BATCH = 20_000

Progress = Callable[[int, int], None]  # (paths checked, paths in all)


async def stat_in_batches(
    backend: Backend,
    paths: Sequence[str],
    checksum: bool,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> dict[str, PathStat | None]:
    found: dict[str, PathStat | None] = {}
    for start in range(0, len(paths), batch):
        found.update(await backend.stat_paths(paths[start : start + batch], checksum=checksum))
        if progress is not None:
            progress(min(start + batch, len(paths)), len(paths))
    return found


async def check_outputs(
    backend: Backend,
    jobs: Sequence[Job],
    settings: ValidationSettings,
    now: float,
    force: bool = False,
    progress: Progress | None = None,
) -> list[JobUpdate]:
    """Updates for jobs whose outputs settle them. Raises BackendUnavailable when the files could
    not be looked at; the caller then leaves every job as it was and says why."""
    plans = [plan_checks(job) for job in jobs]
    paths = sorted({c.path for plan in plans for c in plan})
    checksum = any(c.sha256 for plan in plans for c in plan)
    stats: dict[str, PathStat | None] = {}
    if paths and settings.enabled:
        stats = await stat_in_batches(backend, paths, checksum, progress)
    return [
        u
        for job, plan in zip(jobs, plans, strict=True)
        if (u := judge(job, plan, stats, now, settings, force))
    ]
