"""A queue entry as `jobdeck queue --json` prints it: the keys scripts rely on."""

from __future__ import annotations

from typing import Any

from monitor.queue import QueueEntry
from tui.job_json import iso


def _seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


def entry_dict(entry: QueueEntry, now: float) -> dict[str, Any]:
    """Times as UTC ISO 8601, durations in whole seconds, sizes in bytes, efficiency in 0..1; None
    where the scheduler does not say (efficiency and memory only once the job finished)."""
    finished = entry.finished
    return {
        "cluster": entry.cluster,
        "job_id": entry.job_id,
        "name": entry.name,
        "state": entry.state.value,
        "scheduler_state": entry.scheduler_state,
        "reason": entry.reason,
        "exit_code": entry.exit_code,
        "signal": entry.signal,
        "array_id": entry.array_id,
        "task": entry.task,
        "partition": entry.partition,
        "nodes": entry.nodes,
        "node_count": entry.node_count,
        "cpus": entry.cpus,
        "gpus": entry.gpus,
        "time_limit": _seconds(entry.time_limit),
        "time_left": _seconds(entry.time_left_at(now)),
        "priority": entry.priority,
        "elapsed": _seconds(entry.elapsed_at(now)),
        "submitted": iso(entry.submit_time),
        "started": iso(entry.start_time),
        "ended": iso(entry.end_time),
        "cpu_efficiency": entry.cpu_efficiency if finished else None,
        "max_rss": entry.max_rss if finished else None,
        "req_mem": entry.req_mem,
        "workdir": entry.workdir,
        "log_path": entry.log_path,
        "err_path": entry.err_path,
        "requeues": entry.requeues,
        "session": entry.session,
    }
