"""Adoption as the CLI (`jobdeck adopt`) and the app's adopt key share it: jobs submitted with
plain sbatch become logical jobs of a session, named by their scheduler job name, with what the
scheduler knows of how they were submitted kept in their spec, so restart, validate and resume work
on them as on any job. Nothing is submitted here."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from monitor.adoption import Captured
from monitor.errors import BackendUnavailable, InputError, SchedulerRejected
from monitor.log_patterns import default_log_pattern, resolve_pattern
from monitor.manifest import ClusterConfig, SessionConfig, check_name
from monitor.model import Job, OutputCheck
from monitor.protocols import Backend
from monitor.templates import escape, expand
from store.session_store import SessionStore

DEFAULT_SESSION = "adopted"


@dataclass
class AdoptReport:
    """What adoption did: one line per adopted job, per job already adopted, per job refused."""

    session: str
    cluster: str
    adopted: list[Captured] = field(default_factory=list)
    already: list[tuple[str, str]] = field(default_factory=list)  # (job ID, the line saying where it is)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (job ID, why, one line naming it)
    declared: list[str] = field(default_factory=list)  # outputs declared on jobs adopted before

    @property
    def ok(self) -> bool:
        return not self.refused

    def lines(self) -> list[str]:
        lines = []
        for c in self.adopted:
            tasks = f" ({len(c.tasks)} array tasks)" if c.spec.array is not None else ""
            kept = f"; script kept at {c.script_copy}" if c.script_copy else ""
            lines.append(f"adopted job {c.job_id} as {self.session}/{c.name}{tasks} on {self.cluster}{kept}")
            lines += [f"  {note}" for note in c.notes]
        lines += [line for _, line in self.already]
        lines += self.declared
        lines += [line for _, line in self.refused]
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "cluster": self.cluster,
            "adopted": [
                {
                    "job_id": c.job_id,
                    "name": c.name,
                    "task_ids": {("" if t is None else str(t)): i for t, i in c.tasks},
                    "script": c.script_copy,
                    "args": list(c.spec.args),
                    "options": list(c.spec.options),
                    "workdir": c.spec.workdir,
                    "log": c.spec.log,
                    "err": c.spec.err,
                    "outputs": [o.path for o in c.spec.outputs],
                    "notes": list(c.notes),
                }
                for c in self.adopted
            ],
            "already": [{"job_id": j, "message": line} for j, line in self.already],
            "declared": self.declared,
            "refused": [{"job_id": j, "error": line} for j, line in self.refused],
        }


async def adopt(
    store: SessionStore,
    cluster: ClusterConfig,
    backend: Backend,
    job_ids: Sequence[str],
    session: str,
    now: float,
    *,
    outputs: Sequence[str] = (),
    configured: Mapping[str, Sequence[str]] | None = None,
) -> AdoptReport:
    """Adopt each scheduler job (an array's base ID adopts every task) into `session`; a job
    adopted before is left as it is (its declared outputs replaced by `outputs` when given). Without
    `outputs`, a job's outputs are those `configured` under its name (the config file's
    [adopted.NAME] tables), so outputs declared there later apply at the next adoption."""
    configured = configured or {}
    report = AdoptReport(session, cluster.name)
    try:
        check_name(session)
    except ValueError as exc:
        report.refused += [(j, f"session {session!r}: {exc}") for j in job_ids]
        return report
    adopter = backend.adopter
    for job_id in dict.fromkeys(j.strip() for j in job_ids):
        known = [j for j in await store.jobs_by_scheduler_id(job_id) if j.cluster == cluster.name]
        if known:
            declared = outputs or configured.get(known[0].name, ())
            try:
                await _already(store, report, job_id, known, declared, now)
            except ValueError as exc:
                report.refused.append((job_id, f"job {job_id}: --output: {exc}"))
            continue
        if adopter is None:
            why = f"job {job_id}: jobs of a {backend.kind} cluster ({cluster.name}) cannot be adopted yet"
            report.refused.append((job_id, why))
            continue
        try:
            captured = await adopter.capture(job_id)
            declared = outputs or configured.get(captured.name, ())
            captured = replace(
                captured, spec=replace(captured.spec, outputs=_outputs(declared, captured.spec.workdir))
            )
            await _record(store, cluster, session, captured, now)
        except (SchedulerRejected, BackendUnavailable, InputError, ValueError) as exc:
            report.refused.append((job_id, str(exc) if job_id in str(exc) else f"job {job_id}: {exc}"))
            continue
        report.adopted.append(captured)
    return report


async def _record(store: SessionStore, cluster: ClusterConfig, session: str, c: Captured, now: float) -> None:
    spec = c.spec
    log = spec.log or default_log_pattern(spec.workdir, spec.array is not None)
    rows = []
    for task, scheduler_id in c.tasks:
        base = scheduler_id.split("_", 1)[0]
        ids: dict[str, Any] = (
            {"job_id": scheduler_id} if task is None else {"array_job_id": base, "task": task}
        )
        paths = [resolve_pattern(p, name=c.name, **ids) if p else None for p in (log, spec.err)]
        task_spec = replace(
            spec, outputs=tuple(replace(o, path=_task_path(o.path, task)) for o in spec.outputs)
        )
        rows.append((c.name, task, task_spec, scheduler_id, paths[0], paths[1]))
    new_manifest: dict[str, Any] = {
        "path": None,
        "session": SessionConfig(name=session).model_dump(mode="json"),
        "clusters": {},
        "jobs": [],
    }
    data = {"name": cluster.name, **cluster.model_dump(mode="json")}
    await store.record_adoption(session, new_manifest, data, rows, f"adopt {c.job_id}", now)


def _outputs(paths: Sequence[str], workdir: str) -> tuple[OutputCheck, ...]:
    """Declared outputs as templates ({task}, {attempt}), made absolute from the job's work dir."""
    absolute = []
    for path in paths:
        if not posixpath.isabs(path):
            path = f"{escape(workdir.rstrip('/'))}/{path}"
        absolute.append(OutputCheck(path=path))
    return tuple(absolute)


def _declared(paths: Sequence[str], job: Job) -> tuple[OutputCheck, ...]:
    """`paths` as a job's outputs, for its task."""
    return tuple(replace(o, path=_task_path(o.path, job.task)) for o in _outputs(paths, job.spec.workdir))


def _task_path(template: str, task: int | None) -> str:
    values: dict[str, object] = {} if task is None else {"task": task}
    return expand(template, keep=("attempt",), **values)


async def _already(
    store: SessionStore,
    report: AdoptReport,
    job_id: str,
    known: list[Job],
    outputs: Sequence[str],
    now: float,
) -> None:
    """A job adopted (or submitted by jobdeck) before: nothing is done, unless outputs are declared."""
    where = ", ".join(sorted({f"{j.session}/{j.name}" for j in known}))
    if not outputs or all(j.spec.outputs == _declared(outputs, j) for j in known):
        report.already.append((job_id, f"job {job_id} is already {where}: nothing done"))
        return
    by_session: dict[str, list[Job]] = {}
    for job in known:
        by_session.setdefault(job.session, []).append(job)
    for name, jobs in by_session.items():
        definitions = []
        for job in jobs:
            definitions.append((job.name, job.task, replace(job.spec, outputs=_declared(outputs, job))))
        await store.add_jobs(await store.session_id(name), definitions, now)
    shown = ", ".join(outputs)
    report.declared.append(
        f"job {job_id} is already {where}: outputs declared ({shown}); `jobdeck validate --force {where.split(', ')[0]}` checks them now"
    )
