"""`jobdeck adopt` on SLURM: what the scheduler knows of how a job was submitted with plain sbatch,
read with `scontrol show job`, `scontrol write batch_script` and accounting's SubmitLine, and the
batch script kept on the cluster (through the runner, so over SSH too) where a restart runs it even
after the original file was edited or deleted."""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from backends.runners.base import CommandResult
from backends.slurm.commands import FIELD_SEP, TIME_ENV
from backends.slurm.parse import expand_array_expression, is_invalid_job_id, scontrol_fields
from backends.slurm.submit_line import CommandLine, header_options, submit_line
from backends.slurm.submitted import command_args, log_template, restart_options, uid_of
from monitor.adoption import Captured
from monitor.errors import SchedulerRejected
from monitor.model import JobSpec, SubmitRequest

if TYPE_CHECKING:
    from backends.slurm.backend import SlurmBackend

SCRIPTS_DIR = ".jobdeck/adopted"
"""Where adopted jobs' batch scripts are kept, under the cluster user's home."""

_JOB_ID = re.compile(r"[0-9]{1,18}(?:_[0-9]{1,9})?")
_SACCT_FIELDS = ("JobID", "JobName", "UID", "WorkDir", "SubmitLine")
_KEEP_SCRIPT = (
    f'set -e; umask 077; d="$HOME/{SCRIPTS_DIR}/$1"; mkdir -p "$d"; f="$d/$2"; cat > "$f.tmp"; '
    'chmod 700 "$f.tmp"; mv -f "$f.tmp" "$f"; printf %s "$f"'
)
_ARGS_NOTE = (
    "arguments as SLURM keeps them, joined by spaces (an argument that held a space is now several words)"
)


@dataclass
class _Known:
    """What the scheduler said of one job: scontrol's lines (while the controller holds it) and
    accounting's rows."""

    held: list[dict[str, str]] = field(default_factory=list)
    accounted: list[dict[str, str]] = field(default_factory=list)


class SlurmAdopter:
    """monitor.protocols.Adopter for one SLURM cluster."""

    def __init__(self, backend: SlurmBackend) -> None:
        self.backend = backend
        self.cluster = backend.cluster
        self.runner = backend.runner
        self.timeout = backend.timeout
        self._uid: int | None = None

    async def capture(self, job_id: str) -> Captured:
        if not _JOB_ID.fullmatch(job_id):
            raise SchedulerRejected(f"job {job_id!r}: not a SLURM job ID (123, or 123_4 for one array task)")
        known = await self._known(job_id)
        if not known.held and not known.accounted:
            raise SchedulerRejected(
                f"job {job_id}: {self.cluster} knows no such job (not queued, not in accounting)"
            )
        first = known.held[0] if known.held else {}
        row = known.accounted[0] if known.accounted else {}
        owner = uid_of(first.get("UserId") or row.get("UID", ""))
        mine = await self._my_uid()
        if owner is not None and owner != mine:
            raise SchedulerRejected(
                f"job {job_id}: belongs to another user (uid {owner}): only your own jobs can be adopted"
            )
        name = first.get("JobName") or row.get("JobName") or job_id
        tasks = _tasks(known)
        workdir = first.get("WorkDir") or row.get("WorkDir") or ""
        typed = submit_line(row["SubmitLine"]) if row.get("SubmitLine") else None
        notes: list[str] = []
        text, original = await self._script(job_id, known, typed, workdir, notes)
        header = header_options(text) if text is not None else header_options("")
        copy = await self._keep(job_id, text) if text is not None else None
        args = command_args(first["Command"]) if first.get("Command") else (typed.args if typed else ())
        if typed is not None and typed.value("wrap") is not None:
            args = ()
        if args:
            notes.append(f"job {job_id}: {_ARGS_NOTE}: {shlex.join(args)}")
        if not first:
            notes.append(
                f"job {job_id}: no longer held by the controller: sbatch options beyond its command "
                "line and #SBATCH lines (the partition's defaults) are not repeated by a restart"
            )
        base = tasks[0][1].split("_", 1)[0]
        array_id = base if any(task is not None for task, _ in tasks) else None
        spec = JobSpec(
            cluster=self.cluster,
            script=copy or original or "",
            workdir=workdir,
            args=args,
            options=restart_options(typed, header, first),
            array=",".join(str(t) for t, _ in tasks) if array_id else None,
            log=_log(first, "StdOut", typed, header, "output", workdir, array_id),
            err=_err(first, typed, header, workdir, array_id),
            extra={
                "adopted": {
                    "job_id": job_id,
                    "script": copy,
                    "original_script": original,
                    "submit_line": row.get("SubmitLine") or None,
                    "command": first.get("Command") or None,
                }
            },
        )
        return Captured(job_id, name, tuple(tasks), spec, copy, tuple(notes))

    async def _known(self, job_id: str) -> _Known:
        known = _Known()
        held = await self._run(["scontrol", "show", "job", "-o", job_id], "scontrol show job")
        if held.ok:
            text = held.stdout.decode(errors="replace")
            known.held = [scontrol_fields(line) for line in text.splitlines() if line.startswith("JobId=")]
        elif not is_invalid_job_id(held.stderr.decode(errors="replace")):
            raise SchedulerRejected(f"job {job_id}: scontrol show job failed: {held.error_text()}")
        argv = [
            "sacct", "-X", "-n", "--parsable2", f"--delimiter={FIELD_SEP}", "-j", job_id,
            "-o", ",".join(_SACCT_FIELDS),
        ]  # fmt: skip
        accounted = await self._run(argv, "sacct")
        if accounted.ok:
            for line in accounted.stdout.decode(errors="replace").splitlines():
                values = line.split(FIELD_SEP)
                if len(values) == len(_SACCT_FIELDS):
                    known.accounted.append(dict(zip(_SACCT_FIELDS, values, strict=True)))
        return known

    async def _script(
        self, job_id: str, known: _Known, typed: CommandLine | None, workdir: str, notes: list[str]
    ) -> tuple[str | None, str | None]:
        """The batch script's text and its original path: from the controller while it holds the
        job, else the file the command line named, as it is now."""
        original = known.held[0].get("Command", "").split(" ", 1)[0] if known.held else None
        if original is None and typed is not None and typed.script is not None:
            original = posixpath.normpath(posixpath.join(workdir, typed.script))
        if known.held:
            written = await self._run(
                ["scontrol", "write", "batch_script", job_id, "-"], "scontrol write batch_script"
            )
            if written.ok:
                return written.stdout.decode(errors="replace"), original
            notes.append(f"job {job_id}: scontrol write batch_script failed: {written.error_text()}")
        if typed is not None and typed.value("wrap") is not None:
            notes.append(
                f"job {job_id}: its --wrap command is not held by the controller any more: a restart cannot run it"
            )
            return None, None
        if original is None:
            notes.append(
                f"job {job_id}: neither the controller nor accounting knows its batch script: a restart cannot run it"
            )
            return None, None
        read = await self._run(["cat", "--", original], "cat")
        if not read.ok:
            notes.append(
                f"job {job_id}: its batch script is not held by the controller any more (SLURM keeps none "
                f"in accounting) and {original} cannot be read ({read.error_text()}): a restart cannot run it"
            )
            return None, original
        notes.append(
            f"job {job_id}: its batch script is not held by the controller any more (SLURM keeps none "
            f"in accounting): kept {original} as it is now, which may differ from what the job ran"
        )
        return read.stdout.decode(errors="replace"), original

    async def _keep(self, job_id: str, text: str) -> str:
        """The script's copy on the cluster, named by the job (an array's tasks share one)."""
        name = job_id.split("_", 1)[0] + ".sh"
        kept = await self.runner.run(
            ["sh", "-c", _KEEP_SCRIPT, "sh", self.cluster, name], input=text.encode(), timeout=self.timeout
        )
        if not kept.ok or not kept.stdout.strip():
            raise SchedulerRejected(
                f"job {job_id}: cannot keep its batch script under ~/{SCRIPTS_DIR}: {kept.error_text()}"
            )
        return kept.stdout.decode(errors="replace").strip()

    async def _my_uid(self) -> int | None:
        if self._uid is None:
            result = await self._run(["id", "-u"], "id -u")
            self._uid = int(result.stdout) if result.ok and result.stdout.strip().isdigit() else None
        return self._uid

    async def _run(self, argv: list[str], what: str) -> CommandResult:
        result = await self.backend.runner.run(argv, env=TIME_ENV, timeout=self.backend.timeout)
        if not result.ok:
            self.backend.raise_if_unreachable(result, what)
        return result


def _tasks(known: _Known) -> list[tuple[int | None, str]]:
    """(array index or None, scheduler ID as users see it) of every task the answer names."""
    found: dict[int | None, str] = {}
    for row in known.held:
        if "ArrayJobId" in row and "ArrayTaskId" in row:
            for task in expand_array_expression(row["ArrayTaskId"]) or ():
                found[task] = f"{row['ArrayJobId']}_{task}"
        else:
            found[None] = row["JobId"]
    for row in known.accounted:
        base, sep, task = row["JobID"].partition("_")
        if not sep:
            found.setdefault(None, base)
        indices = (expand_array_expression(task) or []) if sep else []
        for index in indices:
            found.setdefault(index, f"{base}_{index}")
    if len(found) > 1:
        found.pop(None, None)
    return sorted(found.items(), key=lambda item: -1 if item[0] is None else item[0])


def _log(
    row: dict[str, str], key: str, typed: CommandLine | None, header: CommandLine, option: str,
    workdir: str, array_id: str | None,
) -> str | None:  # fmt: skip
    given = (typed.value(option) if typed else None) or header.value(option)
    return log_template(row.get(key), row.get("JobId", ""), array_id, given, workdir)


def _err(
    row: dict[str, str], typed: CommandLine | None, header: CommandLine, workdir: str, array_id: str | None
) -> str | None:
    """stderr's template, None when it goes to the log (as it does unless --error was given)."""
    given = (typed.value("error") if typed else None) or header.value("error")
    if given is None and row.get("StdErr") == row.get("StdOut"):
        return None
    return _log(row, "StdErr", typed, header, "error", workdir, array_id)


def adopted_preamble(request: SubmitRequest) -> str:
    """The dry run's first line for an adopted job: what is run again, and from where."""
    adopted = request.extra.get("adopted")
    if not isinstance(adopted, dict):
        return ""
    words = shlex.join(request.tasks[0].args) if request.tasks else ""
    return (
        f"# reruns job {adopted.get('job_id')}'s own batch script (kept at {request.script}) with its "
        f"arguments [{words}] and options [{shlex.join(request.options)}]\n"
    )
