"""Parsers of squeue, sacct and scontrol output into Observations.

They never raise on bad input: a line that cannot be read is skipped and the rest is returned, so one
odd job (or a SLURM version that prints a field differently) never hides the others. Times are read as
epoch seconds (the commands run with TIME_ENV). Array records that SLURM has not split into tasks yet
("5_[3-9]") are expanded into one observation per task, without a raw ID or log path of their own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from backends.slurm.commands import FIELD_SEP, SACCT_FIELDS, SQUEUE_FIELDS
from monitor.arrays import parse_array
from monitor.model import Observation

MAX_EXPANSION = 100_000
"""Most tasks one unsplit array record may expand into; a record claiming more is skipped."""

# Times that are forecasts, not facts: squeue and scontrol print an expected start for a pending
# job and start + time limit as the end of a running one.
_NOT_STARTED = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"})
_NOT_ENDED = _NOT_STARTED | {"RUNNING", "CONFIGURING", "SUSPENDED", "STOPPED", "RESIZING", "SIGNALING"}

_EMPTY = frozenset({"", "(null)", "None", "N/A"})
# ASCII digits only (\d would take any script's digits) and bounded, so int() and float() never fail
_NUMBER = re.compile(r"[0-9]{1,18}")
_JOB_ID = re.compile(r"[0-9]{1,18}(?:\+[0-9]{1,9})?")  # 123, or 123+1 for a heterogeneous job component
_ARRAY_TASK_ID = re.compile(r"([0-9]{1,18})_([0-9]{1,18}|\[[^\]]*\])")  # sacct's JobID: a task or a record
_EPOCH = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
_EXIT = re.compile(r"([0-9]{1,9}):([0-9]{1,9})")


def parse_squeue(output: str | bytes, line: Callable[[bytes], SqueueLine] | None = None) -> list[Observation]:
    """Lines of `squeue -h -r -o SQUEUE_FORMAT`, in order; a line printed twice counts once. squeue
    has no exit codes and no requeue counts. Lines end at a newline only (a job name may hold any
    other control character). `line` reads one (a SqueueReader's memory of lines: see known_line)."""
    data = output.encode(errors="surrogatepass") if isinstance(output, str) else output
    lines = [(line or SqueueLine)(key) for key in dict.fromkeys(data.splitlines())]
    counts = raw_id_counts(lines)
    return [obs for line in lines for obs in line.observations_among(counts)]


def raw_id_counts(lines: Iterable[SqueueLine]) -> Counter[str]:
    """How many of `lines` show each task raw ID."""
    return Counter(line.task_raw_id for line in lines if line.task_raw_id is not None)


class SqueueLine:
    """What one squeue line says. `task_raw_id` is the raw ID of its one array task, if it has one."""

    __slots__ = ("_without_raw_id", "observations", "task_raw_id")

    def __init__(self, line: bytes) -> None:
        self.observations = _squeue_line(line.decode(errors="replace"))
        task = [o.raw_id for o in self.observations if "_" in o.job_id]
        self.task_raw_id = task[0] if len(task) == 1 else None
        self._without_raw_id: list[Observation] | None = None

    def observations_among(self, counts: Mapping[str, int]) -> list[Observation]:
        """Its observations among lines showing each task raw ID `counts` times. A pending task not
        yet split from its array shows the array's ID as its own: a raw ID other lines show too is
        none."""
        if self.task_raw_id is None or counts.get(self.task_raw_id, 0) < 2:
            return self.observations
        if self._without_raw_id is None:
            self._without_raw_id = [replace(o, raw_id=None) for o in self.observations]
        return self._without_raw_id


_SQUEUE_NAMES = tuple(name for name, _ in SQUEUE_FIELDS)


def _squeue_line(line: str) -> list[Observation]:
    fields = line.split(FIELD_SEP)
    if len(fields) != len(_SQUEUE_NAMES):
        return []
    row = dict(zip(_SQUEUE_NAMES, fields, strict=True))
    if row["task"].strip() in _EMPTY:
        ids = _plain_ids(row["display_id"], row["raw_id"])
    else:
        ids = _task_ids(row["base_id"], row["task"], row["raw_id"])
    return _observations("squeue", ids, row)


def parse_sacct(text: str) -> list[Observation]:
    """Lines of `sacct -X -D -n --parsable2 -o SACCT_FIELDS`. With -D every requeue of a job is its own
    row: the last row is the job now, the earlier ones count as requeues."""
    latest: dict[str, Observation] = {}
    rows: Counter[str] = Counter()
    for line in text.splitlines():
        fields = line.split(FIELD_SEP)
        if len(fields) != len(SACCT_FIELDS):
            continue
        row = dict(zip(SACCT_FIELDS, fields, strict=True))
        array = _ARRAY_TASK_ID.fullmatch(row["JobID"].strip())
        if array:
            ids = _task_ids(array.group(1), array.group(2), row["JobIDRaw"])
        else:
            ids = _plain_ids(row["JobID"], row["JobIDRaw"])
        for obs in _observations("sacct", ids, {key: row[column] for key, column in _SACCT_COLUMNS.items()}):
            latest.pop(obs.job_id, None)  # keep the order of each job's last row
            latest[obs.job_id] = obs
            rows[obs.job_id] += 1
    return [replace(obs, requeues=rows[job_id] - 1) for job_id, obs in latest.items()]


_SACCT_COLUMNS = {
    "state": "State", "name": "JobName", "comment": "Comment", "reason": "Reason", "exit": "ExitCode",
    "submit": "Submit", "start": "Start", "end": "End",
}  # fmt: skip


def parse_scontrol(text: str) -> list[Observation]:
    """Lines of `scontrol show job -o`: `Key=value` pairs whose values may hold spaces."""
    observations: list[Observation] = []
    for line in text.splitlines():
        if not line.startswith("JobId="):
            continue
        row = scontrol_fields(line)
        if "HetJobId" in row and "HetJobOffset" in row:
            ids = _plain_ids(f"{row['HetJobId']}+{row['HetJobOffset']}", row["JobId"])
        elif "ArrayJobId" in row and "ArrayTaskId" in row:
            ids = _task_ids(row["ArrayJobId"], row["ArrayTaskId"], row["JobId"])
        else:
            ids = _plain_ids(row["JobId"], row["JobId"])
        fields = {key: row.get(key_name) for key, key_name in _SCONTROL_COLUMNS.items()}
        observations += _observations("scontrol", ids, fields)
    return observations


_SCONTROL_COLUMNS = {
    "state": "JobState", "name": "JobName", "comment": "Comment", "reason": "Reason", "exit": "ExitCode",
    "submit": "SubmitTime", "start": "StartTime", "end": "EndTime", "requeues": "Restarts", "log": "StdOut",
}  # fmt: skip


def scontrol_fields(line: str) -> dict[str, str]:
    """One `scontrol -o` line as a dict. It is split before every ` Key=`, except that a free-text
    value (job name, comment, command, paths) keeps a ` Word=` that is not a key scontrol prints."""
    starts: list[tuple[str, int, int]] = []  # key, where its "Key=" starts, where its value starts
    for match in _SCONTROL_KEY.finditer(line):
        key = match.group(1)
        if starts and starts[-1][0] in _FREE_TEXT and key not in _SCONTROL_KEYS:
            continue
        starts.append((key, match.start(1), match.end()))
    ends = [start for _, start, _ in starts[1:]] + [len(line)]
    return {key: line[value:end].strip() for (key, _, value), end in zip(starts, ends, strict=True)}


_SCONTROL_KEY = re.compile(r"(?:^|(?<= ))([A-Z][A-Za-z0-9_]*(?:[:/][A-Za-z0-9_]+)*)=")
_FREE_TEXT = frozenset(
    {"JobName", "Comment", "AdminComment", "SystemComment", "Command", "WorkDir", "StdErr", "StdIn", "StdOut"}
)
_SCONTROL_KEY_NAMES = """
JobId ArrayJobId ArrayTaskId ArrayTaskThrottle HetJobId HetJobOffset HetJobIdSet JobName UserId
GroupId MCS_label Priority Nice Account QOS JobState Reason Dependency Requeue Restarts BatchFlag
Reboot ExitCode DerivedExitCode RunTime TimeLimit TimeMin SubmitTime EligibleTime AccrueTime
StartTime EndTime Deadline PreemptEligibleTime PreemptTime SuspendTime SecsPreSuspend LastSchedEval
Scheduler Partition AllocNode:Sid ReqNodeList ExcNodeList NodeList BatchHost SchedNodeList NumNodes
NumCPUs NumTasks CPUs/Task ReqB:S:C:T TRES Socks/Node NtasksPerN:B:S:C CoreSpec Nodes CPU_IDs Mem
GRES MinCPUsNode MinMemoryNode MinMemoryCPU MinTmpDiskNode Features Prefer ClusterFeatures DelayBoot
OverSubscribe Contiguous Licenses Network Reservation Command WorkDir Comment AdminComment
SystemComment StdErr StdIn StdOut Power TresPerNode TresPerJob TresPerTask TresPerSocket CpusPerTres
MemPerTres NtasksPerTRES TresBind TresFreq MailUser MailType Container ContainerID BurstBuffer
BurstBufferState CpuFreqMin CpuFreqMax CpuFreqGov KillOInInvalidDependent ResvPorts Partitions
Selinux
"""
_SCONTROL_KEYS = frozenset(_SCONTROL_KEY_NAMES.split())


def parse_exit_code(text: str | None) -> tuple[int | None, int | None]:
    """SLURM's "exit:signal" ("3:0", "0:15") as (exit code, signal); (None, None) if unreadable."""
    match = _EXIT.fullmatch(text.strip()) if text else None
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


def is_accounting_disabled(stderr: str) -> bool:
    """sacct failed because the cluster keeps no accounting: sacct is no source there, not a failure."""
    return "accounting storage is disabled" in stderr.lower()


def is_invalid_job_id(stderr: str) -> bool:
    """squeue/scontrol found none of the asked IDs: they are not in the queue, the command did not fail."""
    return "invalid job id specified" in stderr.lower()


def expand_array_expression(expression: str) -> list[int] | None:
    """Task indices of an unsplit array record ("[1,3-5%2]", "0-9:3"); None when it cannot be read
    or holds more than MAX_EXPANSION tasks."""
    try:
        indices = parse_array(expression.strip().removeprefix("[").removesuffix("]")).indices
    except ValueError:
        return None
    return list(indices) if len(indices) <= MAX_EXPANSION else None


def _plain_ids(job_id: str, raw_id: str) -> list[tuple[str, str | None]]:
    job_id = job_id.strip()
    return [(job_id, raw_id.strip() or None)] if _JOB_ID.fullmatch(job_id) else []


def _task_ids(base_id: str, task: str, raw_id: str) -> list[tuple[str, str | None]]:
    base_id, task = base_id.strip(), task.strip()
    if not _NUMBER.fullmatch(base_id):
        return []
    if _NUMBER.fullmatch(task):
        return [(f"{base_id}_{int(task)}", raw_id.strip() or None)]
    return [(f"{base_id}_{index}", None) for index in expand_array_expression(task) or ()]


def _observations(
    source: str, ids: list[tuple[str, str | None]], row: Mapping[str, str | None]
) -> list[Observation]:
    """One observation per ID from one record's raw texts (keys: state, name, comment, reason, exit,
    submit, start, end, requeues, log)."""
    words = (row.get("state") or "").split()
    if not words:
        return []
    raw_state = words[0].upper()
    exit_code, signal = parse_exit_code(row.get("exit"))
    requeues = (row.get("requeues") or "").strip()
    return [
        Observation(
            job_id=job_id,
            raw_state=raw_state,
            raw_id=raw_id,
            name=row.get("name") or None,
            tag=_text(row.get("comment")),
            reason=_text(row.get("reason")),
            exit_code=exit_code,
            signal=signal,
            submit_time=_epoch(row.get("submit")),
            start_time=None if raw_state in _NOT_STARTED else _epoch(row.get("start")),
            end_time=None if raw_state in _NOT_ENDED else _epoch(row.get("end")),
            requeues=int(requeues) if _NUMBER.fullmatch(requeues) else 0,
            log_path=_text(row.get("log")) if raw_id else None,
            source=source,
        )
        for job_id, raw_id in ids
    ]


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return None if value in _EMPTY else value


def _epoch(value: str | None) -> float | None:
    value = (value or "").strip()
    seconds = float(value) if _EPOCH.fullmatch(value) else 0.0
    return seconds if seconds > 0 else None
