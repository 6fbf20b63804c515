"""The two commands that list the user's whole queue: `squeue --me` with the scheduler's facts about
each job, and one `sacct` of the jobs that finished in a window (with their steps, which alone
carry MaxRSS). Pure argv builders; run squeue with TIME_ENV and sacct with HISTORY_ENV, so times
are epoch seconds."""

from __future__ import annotations

import math

from backends.slurm.commands import FIELD_SEP, SACCT_MARGIN, TIME_ENV

HISTORY_ENV = {**TIME_ENV, "SLURM_BITSTR_LEN": "0"}
"""sacct's environment: epoch times, and an array record's task expression printed whole (it is
cut at 64 characters otherwise, and a cut one cannot be read)."""

QUEUE_FIELDS: tuple[tuple[str, str], ...] = (
    ("display_id", "JobArrayID"),  # 123, 123_4, 123+1 (what %i prints)
    ("base_id", "ArrayJobID"),
    ("task", "ArrayTaskID"),  # the task index, N/A for a plain job
    ("name", "Name"),
    ("state", "State"),
    ("reason", "Reason"),
    ("partition", "Partition"),
    ("nodes", "NodeList"),
    ("node_count", "NumNodes"),
    ("cpus", "NumCPUs"),
    ("tres", "tres-alloc"),  # allocated once running, asked for before: cpu=2,mem=4G,gres/gpu=1
    ("time_limit", "TimeLimit"),  # [D-]HH:MM:SS, MM:SS, UNLIMITED
    ("submit", "SubmitTime"),
    ("start", "StartTime"),  # a forecast while pending
    ("end", "EndTime"),  # a forecast while running
    ("priority", "PriorityLong"),
    ("workdir", "WorkDir"),
    ("stdout", "STDOUT"),
    ("stderr", "STDERR"),
    ("comment", "Comment"),
    ("requeues", "RestartCnt"),
)
# `--Format` pads every field to 20 characters unless given a size: size 0 prints it whole, and
# the separator is each field's suffix (the last one has none).
QUEUE_FORMAT = ",".join(
    f"{field}:0{FIELD_SEP}" if i < len(QUEUE_FIELDS) - 1 else f"{field}:0"
    for i, (_, field) in enumerate(QUEUE_FIELDS)
)

HISTORY_FIELDS: tuple[str, ...] = (
    "JobID", "JobIDRaw", "JobName", "State", "ExitCode", "Submit", "Start", "End", "Comment", "Reason",
    "Partition", "NodeList", "NNodes", "AllocCPUS", "AllocTRES", "TimelimitRaw", "ElapsedRaw",
    "TotalCPU", "MaxRSS", "ReqMem", "WorkDir", "Priority",
)  # fmt: skip


def queue_argv() -> list[str]:
    """Every job of the user in the queue, one line per array task."""
    return ["squeue", "--me", "-h", "-r", "-O", QUEUE_FORMAT]


FINISHED_STATES = "BF,CA,CD,DL,F,NF,OOM,PR,RQ,RV,TO"
"""sacct's codes of the states a job ends in (and REQUEUED, the rows that count requeues). With
-S, a state list selects the jobs in those states during the window: a job cancelled while held
was never eligible, and the window alone would not list it."""


def history_argv(since_epoch: float, now: float) -> list[str]:
    """The user's jobs that finished since `since_epoch` (a relative window, so neither side's
    timezone matters), allocations and steps (no -X), every requeue as its own row (-D)."""
    window = max(0, math.ceil(now - since_epoch)) + SACCT_MARGIN
    return [
        "sacct", "-D", "-n", "--parsable2", f"--delimiter={FIELD_SEP}", "-S", f"now-{window}",
        "-E", "now", "-s", FINISHED_STATES, "-o", ",".join(HISTORY_FIELDS),
    ]  # fmt: skip
