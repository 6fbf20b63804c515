"""The JSON shape of jobs, attempts and events: the contract scripts rely on (`--json`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from monitor.controller import SubmitOutcome
from monitor.model import Attempt, Event, Job, OutputStatus, SessionSummary
from monitor.unwatched import Unwatched


def iso(epoch: float | None) -> str | None:
    """UTC ISO 8601 with a Z, or None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_dict(job: Job) -> dict[str, Any]:
    attempt = job.current
    return {
        "session": job.session,
        "name": job.name,
        "task": job.task,
        "cluster": job.cluster,
        "state": job.state.value,
        "reason": job.reason,
        "exit_code": job.exit_code,
        "job_id": job.job_id,
        "attempt": attempt.number if attempt else 0,
        "log_path": attempt.log_path if attempt else None,
        "err_path": attempt.err_path if attempt else None,
        "submit_time": iso(attempt.submit_time) if attempt else None,
        "start_time": iso(attempt.start_time) if attempt else None,
        "end_time": iso(attempt.end_time) if attempt else None,
        "outputs_verified": job.outputs_verified,
        "outputs_expected": job.outputs_expected
        if job.outputs_expected is not None
        else len(job.spec.outputs),
        "missing_since": iso(job.missing_since),
        "updated_at": iso(job.updated_at),
    }


def submit_outcome_dict(o: SubmitOutcome) -> dict[str, Any]:
    return {
        "name": o.job_name,
        "cluster": o.cluster,
        "tasks": list(o.tasks),
        "job_id": o.scheduler_id,
        "command": o.command,
        "dry_run": o.dry_run,
        "error": o.error,
    }


def attempt_dict(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt": attempt.number,
        "kind": attempt.kind,
        "job_id": attempt.job_id,
        "state": attempt.state.value,
        "scheduler_state": attempt.raw_state,
        "reason": attempt.reason,
        "exit_code": attempt.exit_code,
        "requeues": attempt.requeues,
        "submit_time": iso(attempt.submit_time),
        "start_time": iso(attempt.start_time),
        "end_time": iso(attempt.end_time),
        "log_path": attempt.log_path,
        "err_path": attempt.err_path,
    }


def event_dict(event: Event) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "kind": event.kind,
        "job": str(event.job) if event.job else None,
        "attempt": event.attempt,
        "from": event.from_state.value if event.from_state else None,
        "to": event.to_state.value if event.to_state else None,
        "message": event.message,
    }


def output_dict(output: OutputStatus) -> dict[str, Any]:
    return {"path": output.path, "present": output.present, "problem": output.problem, "size": output.size}


def session_dict(summary: SessionSummary, waiting: Unwatched | None = None) -> dict[str, Any]:
    lease = summary.lease
    return {
        "name": summary.name,
        "manifest": summary.manifest_path,
        "created_at": iso(summary.created_at),
        "last_activity": iso(summary.last_activity),
        "jobs": summary.total,
        "counts": {state.value: n for state, n in sorted(summary.counts.items())},
        "last_cycle": iso(summary.last_cycle_at),
        "last_cycle_by": summary.last_cycle_by,
        "lease_holder": lease.holder if lease else None,
        "unwatched": None
        if waiting is None
        else {
            "since": iso(waiting.since),
            "stages": waiting.stages,
            "restarts": waiting.restarts,
            "message": f"{waiting.summary()}: {waiting.advice(summary.name)}",
        },
    }
