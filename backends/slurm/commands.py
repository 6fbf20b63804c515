"""SLURM command lines, output formats and the batch script jobdeck hands to sbatch.

Everything here is pure: argv lists and text in, argv lists and text out. Running them is the
backend's job. Every command must be run with TIME_ENV so times come out as epoch seconds.
"""

from __future__ import annotations

import math
import posixpath
import re
import shlex
from collections.abc import Iterable, Sequence

from monitor.arrays import ArraySpec
from monitor.model import SubmitRequest

TIME_ENV = {"SLURM_TIME_FORMAT": "%s"}
"""Makes squeue, sacct and scontrol print times as epoch seconds: no timezone, no locale."""

FIELD_SEP = "\x1f"
"""ASCII unit separator between fields: job names and comments may hold '|', spaces and commas."""

SQUEUE_FIELDS: tuple[tuple[str, str], ...] = (
    ("display_id", "%i"),  # 123, 123_4, 123_[5-9] without -r
    ("base_id", "%F"),  # the array's base ID, or the job ID
    ("raw_id", "%A"),  # the task's own ID once it has one, else the base ID
    ("task", "%K"),  # array task index (or an expression), N/A for plain jobs
    ("name", "%j"),
    ("state", "%T"),
    ("reason", "%r"),
    ("submit", "%V"),
    ("start", "%S"),  # a forecast while pending
    ("end", "%e"),  # a forecast while running
    ("comment", "%k"),  # "(null)" when empty
)
SQUEUE_FORMAT = FIELD_SEP.join(code for _, code in SQUEUE_FIELDS)

SACCT_FIELDS: tuple[str, ...] = (
    "JobID",
    "JobIDRaw",
    "JobName",
    "State",
    "ExitCode",
    "Submit",
    "Start",
    "End",
    "Comment",
    "Reason",
)

MAX_ID_ARG = 100_000
"""Longest -j argument: below Linux's 128 KiB per argument, with room for the rest of an ssh command."""
SACCT_CHUNK = 1_000
SACCT_DEFAULT_WINDOW = 7 * 86_400
SACCT_MARGIN = 600
"""Seconds added before `since`, for clock skew between this machine and the controller."""


def squeue_argv(job_ids: Sequence[str]) -> list[str]:
    """One squeue for all jobs, one line per array task. Falls back to `--me` (the caller filters)
    when there are no IDs or their list would not fit in one argument."""
    argv = ["squeue", "-h", "-r", "-o", SQUEUE_FORMAT]
    joined = ",".join(_unique(job_ids))
    if joined and len(joined.encode()) <= MAX_ID_ARG:
        return [*argv, "-j", joined]
    return [*argv, "--me"]


def sacct_argvs(job_ids: Sequence[str], since_epoch: float | None, now: float) -> list[list[str]]:
    """Accounting queries for jobs that left the queue, chunked; `-D` keeps every requeue as a row.
    The window is relative (`now-N` seconds) so neither side's timezone matters."""
    ids = _unique(job_ids)
    if not ids:
        return []
    window = SACCT_DEFAULT_WINDOW if since_epoch is None else max(0, math.ceil(now - since_epoch))
    base = [
        "sacct", "-X", "-D", "-n", "--parsable2", f"--delimiter={FIELD_SEP}",
        "-S", f"now-{window + SACCT_MARGIN}", "-o", ",".join(SACCT_FIELDS),
    ]  # fmt: skip
    return [[*base, "-j", ",".join(ids[i : i + SACCT_CHUNK])] for i in range(0, len(ids), SACCT_CHUNK)]


def squeue_mine_argv() -> list[str]:
    """Every job of the user in the queue (the caller filters by name or tag)."""
    return ["squeue", "-h", "-r", "-o", SQUEUE_FORMAT, "--me"]


def sacct_find_argv(names: Sequence[str], since_epoch: float, now: float) -> list[str]:
    """The user's jobs in accounting since `since_epoch`, narrowed to `names` when they can be
    given to --name (a name holding a comma cannot: then every job in the window is listed)."""
    window = max(0, math.ceil(now - since_epoch)) + SACCT_MARGIN
    argv = [
        "sacct", "-X", "-D", "-n", "--parsable2", f"--delimiter={FIELD_SEP}",
        "-S", f"now-{window}", "-o", ",".join(SACCT_FIELDS),
    ]  # fmt: skip
    unique = _unique(names)
    if unique and not any("," in n for n in unique):
        joined = ",".join(unique)
        if len(joined.encode()) <= MAX_ID_ARG:
            argv += ["--name", joined]
    return argv


def scontrol_argv(job_id: str | None = None) -> list[str]:
    """Every job the controller still holds, one per line; or one job (a base ID gives all its tasks).
    scontrol accepts a single ID only."""
    return ["scontrol", "show", "job", "-o", *([job_id] if job_id else [])]


def sbatch_header(script_text: str) -> list[str]:
    """The user's `#SBATCH` lines, read the way sbatch reads them: only in the leading block of
    comments and blank lines. `--array` lines are dropped: jobdeck alone decides what is an array."""
    header = []
    for line in script_text.splitlines():
        stripped = line.lstrip()
        if line.startswith("#SBATCH"):
            if not _ARRAY_OPTION.match(line[len("#SBATCH") :]):
                header.append(line.rstrip("\r"))
        elif stripped and not stripped.startswith("#"):
            break
    return header


_ARRAY_OPTION = re.compile(r"\s+(--array(?:[=\s]|$)|-a)")


def render_batch_script(request: SubmitRequest, header: Sequence[str] = ()) -> str:
    """The script given to sbatch on stdin: it runs the user's script with the task's explicit
    arguments (parameters travel as explicit arguments), every word shell-quoted so it arrives literally."""
    _check_tasks(request)
    for word in (request.script, *(arg for task in request.tasks for arg in task.args)):
        if "\0" in word:
            raise ValueError(f"job {request.name}: a NUL byte cannot be passed in {word!r}")
    lines = ["#!/bin/sh", *header, "# written by jobdeck: run the job script with its explicit arguments"]
    if request.is_array:
        lines.append('case "$SLURM_ARRAY_TASK_ID" in')
        for task in sorted(request.tasks, key=lambda t: t.index or 0):
            lines.append(f"{task.index}) {_set_args(task.args)} ;;")
        lines.append(
            '*) echo "jobdeck: array task $SLURM_ARRAY_TASK_ID has no arguments in this submission" >&2;'
            " exit 2 ;;"
        )
        lines.append("esac")
    else:
        lines.append(_set_args(request.tasks[0].args))
    script = shlex.quote(request.script)
    lines += [f'if [ -x {script} ]; then exec {script} "$@"; fi', f'exec /bin/sh {script} "$@"', ""]
    return "\n".join(lines)


def _set_args(args: Iterable[str]) -> str:
    return " ".join(["set", "--", *(shlex.quote(arg) for arg in args)])


def sbatch_argv(request: SubmitRequest) -> list[str]:
    """The sbatch command line; the script comes on stdin (render_batch_script). The log is opened
    in append mode so a requeue does not truncate it."""
    _check_tasks(request)
    default_log = "slurm-%A_%a.out" if request.is_array else "slurm-%j.out"
    argv = [
        "sbatch", "--parsable", f"--job-name={request.name}", f"--comment={request.tag}",
        "--open-mode=append", f"--chdir={request.workdir}",
        f"--output={request.log or posixpath.join(request.workdir, default_log)}",
    ]  # fmt: skip
    if request.err:
        argv.append(f"--error={request.err}")
    if request.is_array:
        throttle = request.extra.get("throttle")
        if throttle is not None and not (type(throttle) is int and throttle > 0):
            raise ValueError(f"job {request.name}: throttle must be a positive integer, not {throttle!r}")
        indices = tuple(task.index for task in request.tasks if task.index is not None)
        argv.append(f"--array={ArraySpec(indices, throttle).expression}")
    return [*argv, *request.options]


def parse_sbatch(stdout: str) -> str:
    """The job ID from `sbatch --parsable` ("123" or "123;cluster"); ValueError for anything else."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    match = _SBATCH_ID.fullmatch(lines[-1]) if lines else None
    if match is None:
        raise ValueError(f"sbatch printed no job ID: {stdout.strip()[:200]!r}")
    return match.group(1)


_SBATCH_ID = re.compile(r"([0-9]+)(?:;\S+)?")


def _check_tasks(request: SubmitRequest) -> None:
    indices = [task.index for task in request.tasks]
    shown = ", ".join(map(str, indices[:10])) + (", ..." if len(indices) > 10 else "")
    if request.is_array:
        if not indices or any(i is None or i < 0 for i in indices) or len(set(indices)) != len(indices):
            raise ValueError(f"job {request.name}: an array needs distinct task indices >= 0, got [{shown}]")
    elif indices != [None]:
        raise ValueError(f"job {request.name}: a plain job needs one task without an index, got [{shown}]")


def _unique(job_ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(filter(None, job_ids)))
