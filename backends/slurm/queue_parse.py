"""The user's queue as QueueEntry values: one `squeue --me -O QUEUE_FORMAT` line, and the rows of one
`sacct` of the window (allocations with their steps).

Like parse.py these never raise on bad input: a line that cannot be read is skipped. The canonical
state is the backend's map_slurm read by monitor.queue.queue_state (a finished job without declared
outputs is SUCCEEDED or FAILED by its exit code).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from backends.slurm.commands import FIELD_SEP
from backends.slurm.parse import (
    _NOT_ENDED,
    _NOT_STARTED,
    _NUMBER,
    _epoch,
    _plain_ids,
    _task_ids,
    _text,
    parse_exit_code,
)
from backends.slurm.queue_commands import HISTORY_FIELDS, QUEUE_FIELDS
from backends.slurm.states import map_slurm
from backends.slurm.units import duration, requested_memory, size_bytes, tres_gpus, tres_memory
from monitor.log_patterns import resolve_pattern
from monitor.queue import QueueEntry, queue_state

_QUEUE_NAMES = tuple(name for name, _ in QUEUE_FIELDS)


def queue_line(cluster: str, line: bytes) -> tuple[QueueEntry, ...]:
    """The entries of one squeue line: one, or one per task of an array record not yet split."""
    fields = line.decode(errors="replace").split(FIELD_SEP)
    if len(fields) != len(_QUEUE_NAMES):
        return ()
    row = dict(zip(_QUEUE_NAMES, fields, strict=True))
    if row["task"].strip() in ("", "N/A"):
        ids = _plain_ids(row["display_id"], "")
    else:
        ids = _task_ids(row["base_id"], row["task"], "")
    cpus, node_count = _count(row["cpus"]), _count(row["node_count"])
    facts = {
        "partition": _text(row["partition"]),
        "nodes": _text(row["nodes"]),
        "node_count": node_count,
        "cpus": cpus,
        "gpus": tres_gpus(row["tres"]),
        "time_limit": duration(row["time_limit"]),
        "priority": _count(row["priority"]),
        "req_mem": tres_memory(row["tres"]),
        "workdir": _text(row["workdir"]),
        "log_path": _text(row["stdout"]),
        "err_path": _text(row["stderr"]),
        "requeues": _count(row["requeues"]) or 0,
    }
    return _entries(cluster, ids, row, None, facts)


def history_rows(cluster: str, text: str) -> list[QueueEntry]:
    """Every job in the lines of `sacct -D -n --parsable2 -o HISTORY_FIELDS`, in order. A job's
    last allocation row is the job now (earlier ones are requeues); the step rows after it give its
    MaxRSS (the largest of its steps). Lines end at a newline only: a name may hold any other
    control character."""
    latest: dict[str, tuple[list[tuple[str, str | None]], dict[str, str]]] = {}  # by raw ID
    rows_of: dict[str, int] = {}
    rss: dict[str, int] = {}
    for line in text.split("\n"):
        fields = line.split(FIELD_SEP)
        if len(fields) != len(HISTORY_FIELDS):
            continue
        row = dict(zip(HISTORY_FIELDS, fields, strict=True))
        raw, _, step = row["JobIDRaw"].strip().partition(".")
        if step:
            used = size_bytes(row["MaxRSS"])
            if used is not None and raw in latest:
                rss[raw] = max(used, rss.get(raw, 0))
            continue
        ids = _history_ids(row["JobID"], raw)
        if not ids:
            continue
        latest.pop(raw, None)  # keep the order of each job's last row
        latest[raw] = (ids, row)
        rows_of[raw] = rows_of.get(raw, 0) + 1
        rss.pop(raw, None)  # the steps of this run only
    entries: list[QueueEntry] = []
    for raw, (ids, row) in latest.items():
        entries += _history_entries(cluster, ids, row, rss.get(raw), rows_of[raw] - 1)
    return entries


def _history_ids(job_id: str, raw: str) -> list[tuple[str, str | None]]:
    job_id = job_id.strip()
    base, sep, task = job_id.partition("_")
    return _task_ids(base, task, raw) if sep else _plain_ids(job_id, raw)


def _history_entries(
    cluster: str, ids: list[tuple[str, str | None]], row: dict[str, str], max_rss: int | None, requeues: int
) -> tuple[QueueEntry, ...]:
    cpus, node_count = _count(row["AllocCPUS"]), _count(row["NNodes"])
    elapsed = _count(row["ElapsedRaw"])
    total_cpu = duration(row["TotalCPU"])
    efficiency = None
    if elapsed and cpus and total_cpu is not None:
        efficiency = min(1.0, total_cpu / (elapsed * cpus))
    facts = {
        "partition": _text(row["Partition"]),
        "nodes": None if row["NodeList"] == "None assigned" else _text(row["NodeList"]),
        "node_count": node_count,
        "cpus": cpus,
        "gpus": tres_gpus(row["AllocTRES"]),
        "time_limit": duration(row["TimelimitRaw"]),
        "priority": _count(row["Priority"]),
        "elapsed": float(elapsed) if elapsed is not None else None,
        "cpu_efficiency": efficiency,
        "max_rss": max_rss,
        "req_mem": requested_memory(row["ReqMem"], cpus, node_count),
        "workdir": _text(row["WorkDir"]),
        "requeues": requeues,
    }
    texts = {
        "name": row["JobName"], "state": row["State"], "reason": row["Reason"], "comment": row["Comment"],
        "submit": row["Submit"], "start": row["Start"], "end": row["End"],
    }  # fmt: skip
    return _entries(cluster, ids, texts, row["ExitCode"], facts)


def _entries(
    cluster: str,
    ids: Iterable[tuple[str, str | None]],
    row: Mapping[str, str],
    exit_text: str | None,
    facts: Mapping[str, object],
) -> tuple[QueueEntry, ...]:
    """One entry per ID from one record's texts (keys: name, state, reason, comment, submit, start,
    end) and the facts already read (QueueEntry's own field names)."""
    words = row["state"].split()
    if not words:
        return ()
    word = words[0].upper()
    mapped = map_slurm(word, _text(row["reason"]))
    exit_code, signal = parse_exit_code(exit_text)
    common = {
        "cluster": cluster,
        "name": row["name"],
        "state": queue_state(mapped, exit_code),
        "scheduler_state": word,
        "reason": mapped.reason,
        "exit_code": exit_code,
        "signal": signal,
        "submit_time": _epoch(row["submit"]),
        "start_time": None if word in _NOT_STARTED else _epoch(row["start"]),
        "end_time": None if word in _NOT_ENDED else _epoch(row["end"]),
        "tag": _text(row["comment"]),
        **facts,
    }
    entries = []
    for job_id, raw in ids:
        base, _sep, task = job_id.partition("_")
        array = {"array_id": base, "task": int(task)} if task else {}
        paths = {
            key: _resolved(
                path, raw or (None if task else job_id), base, int(task) if task else None, row["name"]
            )
            for key in ("log_path", "err_path")
            if isinstance(path := facts.get(key), str) and "%" in path
        }
        entries.append(QueueEntry(job_id=job_id, **array, **{**common, **paths}))  # type: ignore[arg-type]
    return tuple(entries)


def _resolved(pattern: str, raw: str | None, base: str, task: int | None, name: str) -> str:
    """A log path as squeue shows it while the job waits (`logs/%x-%j.out`), filled in with what
    is known, as the job will write it."""
    return resolve_pattern(
        pattern, job_id=raw, array_job_id=base if task is not None else None, task=task, name=name
    )


def _count(text: str) -> int | None:
    text = text.strip()
    return int(text) if _NUMBER.fullmatch(text) else None
