"""SLURM filename patterns, the manifest's language for log paths, resolved as sbatch does
(measured on slurm 22.05).

%j / %J the job's own (raw) ID, %A the array's base ID, %a the task index, %x the job name, %u the
user, %N the node's short host name, %s "batch", %n and %t "0", %% a literal %. For a job that is
not an array task, %A is the job ID and %a is 4294967294. A width (%3a) zero-pads numbers, at most
10 digits. A pattern containing a backslash is not expanded (its backslashes are dropped).

Resolution can be partial: a code whose value is not known yet (the raw ID of an array task before
it starts) is left in place for a later call, and "%%" is only collapsed once nothing is left.
"""

from __future__ import annotations

import re

NO_ARRAY_TASK = "4294967294"
MAX_WIDTH = 10
_CODE = re.compile(r"%(\d*)([%jJxAaNusnt])")
_NUMERIC = frozenset("jJAant")


def resolve_pattern(
    pattern: str,
    *,
    job_id: str | int | None = None,
    array_job_id: str | int | None = None,
    task: int | None = None,
    name: str | None = None,
    user: str | None = None,
    node: str | None = None,
) -> str:
    """Fill in what is known; a job with neither `task` nor `array_job_id` is a plain job."""
    if "\\" in pattern:
        return pattern.replace("\\", "")
    plain = task is None and array_job_id is None
    raw = None if job_id is None else str(job_id)
    values = {
        "j": raw,
        "J": raw,
        "x": name,
        "A": raw if plain else str(array_job_id) if array_job_id is not None else None,
        "a": NO_ARRAY_TASK if plain else (None if task is None else str(task)),
        "u": user,
        "N": node,
        "s": "batch",
        "n": "0",
        "t": "0",
    }
    pending = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal pending
        width, code = match.groups()
        if code == "%":
            return match.group(0)
        value = values[code]
        if value is None:
            pending = True
            return match.group(0)
        if width and code in _NUMERIC:
            return value.zfill(min(int(width), MAX_WIDTH))
        return value

    resolved = _CODE.sub(substitute, pattern)
    return resolved if pending else resolved.replace("%%", "%")


def is_resolved(path: str) -> bool:
    """True when no pattern code is left (a literal '%' written as '%%' has been collapsed)."""
    return _CODE.search(path) is None


def default_log_pattern(workdir: str, is_array: bool) -> str:
    """SLURM's own default, made absolute, so the engine always knows where the log will be."""
    name = "slurm-%A_%a.out" if is_array else "slurm-%j.out"
    return f"{workdir.rstrip('/')}/{name}"
