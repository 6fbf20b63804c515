"""A Kubernetes cluster as a manifest describes it (a namespace, how to reach the API server, where
outputs are checked) and what its jobs must say. Imports no Kubernetes client: the client takes
~0.7 s to import, which every command would pay; the backend is imported when one is opened."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field

from backends.ssh_access import SshAccess
from monitor.manifest import Host, JobConfig, JobProblem, PathText, dig, load_job_template, quoted
from monitor.protocols import Backend

ONLY_KUBERNETES = dict.fromkeys(
    ("image", "command", "job_template", "backoff_limit"), "only used by a kubernetes cluster"
)
"""The job fields that only a Kubernetes cluster reads: an error on any other cluster."""


def _dns_label(value: str) -> str:
    if len(value) > 63 or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", value):
        raise ValueError(f"not a Kubernetes namespace (lower case letters, digits and '-'): {quoted(value)}")
    return value


class KubernetesCluster(SshAccess):
    backend: Literal["kubernetes"] = "kubernetes"
    context: str | None = None
    namespace: Annotated[str, AfterValidator(_dns_label)] | None = None
    kubeconfig: PathText | None = None
    ttl_seconds_after_finished: int | None = Field(None, ge=0)  # Jobs are deleted this long after they end
    selector: str | None = Field(None, min_length=1)  # a label selector: the Jobs "My jobs" lists
    outputs_host: Host | None = None  # SSH host where outputs are checked; else this machine

    LOCAL_FILES: ClassVar[tuple[str, ...]] = (*SshAccess.LOCAL_FILES, "kubeconfig")
    HOST_FIELD: ClassVar[str] = '"outputs_host" (the SSH host where outputs are checked)'
    UNUSED_JOB_FIELDS: ClassVar[dict[str, str]] = {
        "script": 'not used by a kubernetes cluster (the container runs "command")',
        "sbatch": "not used by a kubernetes cluster (sbatch options are SLURM's)",
        "log": "not used by a kubernetes cluster (the log is the pod's)",
        "err": "not used by a kubernetes cluster (the pod's log holds both streams)",
    }

    @property
    def ssh_host(self) -> str | None:
        return self.outputs_host

    @property
    def remote(self) -> bool:
        return True  # the pods' paths are never this machine's

    def checked_job(self, job: JobConfig, folder: Path, problem: JobProblem) -> JobConfig:
        """The job template resolved against the manifest's folder and read; an image and a command
        required, from the job or its template's first container."""
        container: dict[str, Any] = {}
        if job.job_template is not None:
            path = os.path.join(folder, os.path.expanduser(job.job_template))
            try:
                containers = dig(load_job_template(path), "spec", "template", "spec", "containers")
            except ValueError as error:
                raise problem(("job_template",), str(error)) from None
            container = containers[0] if containers else {}
            job = job.model_copy(update={"job_template": path})
        if not job.image and not container.get("image"):
            raise problem(("image",), "field required (or an image in the job_template's first container)")
        if not job.command and not container.get("command"):
            raise problem(("command",), "field required (or a command in the job_template's first container)")
        return job

    def job_extra(self, job: JobConfig) -> dict[str, Any]:
        """What a Kubernetes Job is built from besides the task's arguments; the job template's
        content is kept with the jobs, so a resubmission does not depend on the file."""
        extra: dict[str, Any] = {"backoff_limit": job.backoff_limit}
        if job.image:
            extra["image"] = job.image
        if job.command:
            extra["command"] = list(job.command)
        if job.job_template is not None:
            try:
                extra["job_template"] = load_job_template(job.job_template)
            except ValueError as error:
                raise ValueError(f"job_template: {error}") from None
        return extra

    def open_backend(self, local_state: Path, session: str | None) -> Backend:
        """The backend, narrowed to `session`'s Jobs when one is given."""
        from backends.kubernetes.backend import KubernetesBackend
        from backends.kubernetes.connection import Settings
        from backends.runners.files import RemoteFiles

        return KubernetesBackend(
            self.name,
            session=session,
            settings=Settings(self.kubeconfig, self.context, self.namespace),
            queue_selector=self.selector,
            ttl_after_finished=self.ttl_seconds_after_finished,
            files=RemoteFiles(self.runner()),
        )
