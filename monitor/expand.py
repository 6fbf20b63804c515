"""A loaded manifest as the list of logical jobs it defines: one per plain job, one per array task."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Any

from monitor.arrays import parse_array
from monitor.manifest import ClusterConfig, JobConfig, Manifest, ManifestError
from monitor.model import JobSpec, OutputCheck, RestartPolicy
from monitor.templates import escape, expand


@dataclass(frozen=True, slots=True)
class JobDefinition:
    """One logical job (session, name[, task]) and everything needed to submit it again."""

    name: str
    task: int | None
    spec: JobSpec


def expand_manifest(manifest: Manifest) -> list[JobDefinition]:
    """Every job and array task in manifest order, then task order, with templates filled per task
    ({attempt} left for validation) and paths made absolute on the job's cluster."""
    definitions = []
    for number, job in enumerate(manifest.jobs, 1):
        tasks = parse_array(job.array).indices if job.array is not None else (None,)
        try:
            extra = manifest.cluster_of(job).job_extra(job)
        except ValueError as error:
            raise ManifestError(manifest.path, f"jobs[{number}] {job.name!r}: {error}") from None
        for task in tasks:
            definitions.append(JobDefinition(job.name, task, _spec(manifest, job, task, extra)))
    return definitions


def _spec(manifest: Manifest, job: JobConfig, task: int | None, extra: dict[str, Any]) -> JobSpec:
    cluster = manifest.cluster_of(job)
    values: dict[str, Any] = {"name": job.name, "session": manifest.session.name}
    if task is not None:
        values["task"] = task
    outputs = tuple(
        OutputCheck(
            path=cluster_path(expand(output.path, keep=("attempt",), **values), cluster, template=True),
            non_empty=output.non_empty,
            min_size=output.min_size,
            sha256=output.sha256,
        )
        for output in job.outputs
    )
    restart = job.restart
    return JobSpec(
        cluster=cluster.name,
        script=cluster_path(job.script, cluster) if job.script is not None else "",
        workdir=cluster.root,
        args=tuple(expand(arg, **values) for arg in job.args),
        options=tuple(job.sbatch),
        array=job.array,
        log=cluster_path(job.log, cluster) if job.log is not None else None,
        err=cluster_path(job.err, cluster) if job.err is not None else None,
        outputs=outputs,
        restart=RestartPolicy(tuple(restart.on), restart.max_attempts, restart.backoff, restart.requeue),
        markers=tuple(job.markers),
        extra=dict(extra),
        after=tuple(job.after),
        stage=(place.index, place.count) if (place := manifest.stages.get(job.name)) else None,
        chain=place.chain if place else None,
    )


def cluster_path(path: str, cluster: ClusterConfig, *, template: bool = False) -> str:
    """An absolute path on the cluster. "~" is expanded only where the cluster's paths are this
    machine's; a relative path is joined onto the cluster's workdir; an absolute path stays as written.
    With `template`, `path` is a template and literal text put into it is escaped."""
    if path.startswith("~") and cluster.paths_are_local:
        head, slash, tail = path.partition("/")
        home = os.path.expanduser(head)
        if home != head:
            path = (escape(home) if template else home) + slash + tail
    if posixpath.isabs(path):
        return path
    workdir = escape(cluster.root) if template else cluster.root
    return posixpath.normpath(posixpath.join(workdir, path))
