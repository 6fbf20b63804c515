"""What SLURM still knows of how a job was submitted, made into what a restart submits again:
the script's arguments, the sbatch options and the log paths. Pure: `scontrol show job -o` fields
and accounting's SubmitLine in, words out."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping

from backends.slurm.submit_line import CommandLine

NOT_REPEATED = frozenset(
    {
        "job-name", "output", "error", "chdir", "array", "comment", "parsable", "wait", "test-only",
        "dependency", "hold", "begin", "deadline", "wrap",
    }
)  # fmt: skip
"""Options a restart does not repeat: jobdeck gives the name, logs, work dir, array and tag itself,
and the rest (a dependency, a start time, --wait) belonged to that one submission."""

_SAME_AS = {"mem": "memory", "mem-per-cpu": "memory", "mem-per-gpu": "memory", "gres": "gpus",
            "gpus": "gpus", "gpus-per-node": "gpus", "gpus-per-task": "gpus"}  # fmt: skip

_FROM_SCONTROL: tuple[tuple[str, str], ...] = (
    ("partition", "Partition"),
    ("time", "TimeLimit"),
    ("nodes", "NumNodes"),
    ("ntasks", "NumTasks"),
    ("cpus-per-task", "CPUs/Task"),
    ("mem", "MinMemoryNode"),
    ("mem-per-cpu", "MinMemoryCPU"),
    ("gres", "TresPerNode"),
    ("account", "Account"),
    ("qos", "QOS"),
    ("constraint", "Features"),
    ("reservation", "Reservation"),
)
"""The sbatch option each `scontrol show job` field gives back."""

_UNSET = frozenset({"", "(null)", "N/A", "None", "0", "UNLIMITED", "Partition_Limit", "NONE", "*"})
_COUNT = re.compile(r"[0-9]+(?:-[0-9]+)?")


def restart_options(
    typed: CommandLine | None, header: CommandLine, fields: Mapping[str, str]
) -> tuple[str, ...]:
    """The options given on the command line (SubmitLine), then what scontrol says the job was
    given for every resource neither the command line nor the script's `#SBATCH` lines set (the
    kept script brings those lines itself)."""
    options = [] if typed is None else [o for o in typed.options if o.name not in NOT_REPEATED]
    words = [f"--{o.name}" if o.value is None else f"--{o.name}={o.value}" for o in options]
    given = {_SAME_AS.get(o.name, o.name) for o in (*options, *header.options)}
    for name, key in _FROM_SCONTROL:
        value = _scontrol_value(name, fields.get(key, ""))
        if value is not None and _SAME_AS.get(name, name) not in given:
            words.append(f"--{name}={value}")
            given.add(_SAME_AS.get(name, name))
    return tuple(words)


def _scontrol_value(name: str, value: str) -> str | None:
    value = value.strip()
    if value in _UNSET:
        return None
    if name in ("nodes", "ntasks", "cpus-per-task") and not _COUNT.fullmatch(value):
        return None
    if name == "gres":
        return ",".join(part.removeprefix("gres:").removeprefix("gres/") for part in value.split(","))
    return value


def command_args(command: str) -> tuple[str, ...]:
    """The arguments in scontrol's Command= ("/path/run.sh alpha two words"): the words after the
    script's path (joined by spaces, as SLURM keeps them)."""
    return tuple(command.split()[1:])


def log_template(
    path: str | None, job_id: str, array_job_id: str | None, option: str | None, workdir: str
) -> str | None:
    """A log path template for the next attempt: the --output/--error the job was given (on the
    command line or in `#SBATCH`), else the resolved path scontrol shows with the job's IDs put
    back as %A, %a and %j; None when neither is known (SLURM's default then)."""
    if option:
        return option if posixpath.isabs(option) else posixpath.normpath(posixpath.join(workdir, option))
    if not path or path in _UNSET:
        return None
    template = path.replace("%", "%%")
    if array_job_id:
        template = re.sub(rf"(?<![0-9]){re.escape(array_job_id)}_[0-9]+(?![0-9])", "%A_%a", template)
    template = re.sub(rf"(?<![0-9]){re.escape(job_id)}(?![0-9])", "%j", template)
    if array_job_id:
        template = re.sub(rf"(?<![0-9]){re.escape(array_job_id)}(?![0-9])", "%A", template)
    return template


def uid_of(user_id: str) -> int | None:
    """The number in scontrol's UserId= ("alice(1000)") or sacct's UID ("1000")."""
    match = re.fullmatch(r"(?:[^()]*\()?([0-9]+)\)?", user_id.strip())
    return int(match.group(1)) if match else None
