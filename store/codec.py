"""Rows to value types and back; the job spec is stored as JSON so new fields need no migration."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from monitor.model import Attempt, JobSpec, OutputCheck, RestartPolicy
from monitor.states import State


def spec_to_json(spec: JobSpec) -> str:
    return json.dumps(asdict(spec), separators=(",", ":"), sort_keys=True)


def spec_from_json(text: str) -> JobSpec:
    """Tolerant of fields added or removed since the row was written."""
    raw: dict[str, Any] = json.loads(text)
    known = {f.name for f in fields(JobSpec)}
    data = {k: v for k, v in raw.items() if k in known}
    for name in ("args", "options", "markers", "after"):
        data[name] = tuple(data.get(name) or ())
    if data.get("stage") is not None:
        data["stage"] = tuple(data["stage"])
    data["outputs"] = tuple(OutputCheck(**o) for o in data.get("outputs") or ())
    policy = data.get("restart") or {}
    data["restart"] = RestartPolicy(**{**policy, "on": tuple(policy.get("on") or ())})
    return JobSpec(**data)


ATTEMPT_COLUMNS = (
    "id, job_id, number, submission_id, kind, scheduler_id, state, raw_state, reason, exit_code, "
    "submit_time, start_time, end_time, log_path, err_path, requeues, log_size, log_grew_at"
)


def attempt_from_row(row: Any) -> Attempt:
    return Attempt(
        id=row[0],
        number=row[2],
        submission_id=row[3],
        kind=row[4],
        job_id=row[5],
        state=State(row[6]),
        raw_state=row[7],
        reason=row[8],
        exit_code=row[9],
        submit_time=row[10],
        start_time=row[11],
        end_time=row[12],
        log_path=row[13],
        err_path=row[14],
        requeues=row[15],
        log_size=row[16],
        log_grew_at=row[17],
    )
