"""A submission's outcome as every view gives it: the same JSON keys for `submit`, `resume`,
`restart` and `submit-pending`, the same sentence on the command line and in the app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.arrays import format_indices
from monitor.controller import SubmitOutcome


def submission_dict(o: SubmitOutcome) -> dict[str, Any]:
    """One submission for --json (task_ids keyed by the task as text, "" for a plain job)."""
    return {
        "session": o.session,
        "name": o.job_name,
        "cluster": o.cluster,
        "tasks": list(o.tasks),
        "job_id": o.scheduler_id,
        "task_ids": {("" if k is None else str(k)): v for k, v in o.task_ids.items()},
        "command": o.command,
        "dry_run": o.dry_run,
        "error": o.error,
    }


def submission_line(verb: str, o: SubmitOutcome) -> str:
    """One submission in a sentence: what a dry run would send, the job ID it got, or why not."""
    job = f"{o.session}/{o.job_name}"  # as the job is named on the command line
    tasks = [t for t in o.tasks if t is not None]
    which = f" (tasks {format_indices(tasks)})" if tasks else ""
    if o.dry_run:
        return f"would {verb} {job}{which} on {o.cluster}:\n{o.command}"
    if o.ok:
        return f"{verb}: {job} submitted as job {o.scheduler_id}{which} on {o.cluster}"
    return f"{verb} of {job}{which} on {o.cluster} failed: {o.error}"


def commands_text(outcomes: Sequence[SubmitOutcome]) -> str:
    """The commands of dry runs, for a confirmation."""
    return "\n\n".join(o.command for o in outcomes)
