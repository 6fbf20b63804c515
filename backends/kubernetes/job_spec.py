"""The batch/v1 Job jobdeck creates for one submission. Pure: a SubmitRequest in, a Job as JSON out.

A plain job is a Job of one pod whose first container runs `command` with the task's explicit
arguments. An array is an Indexed Job of exactly the requested tasks: completion index i runs task
tasks[i] (a resume of tasks 3 and 7 is an Indexed Job of two), its arguments chosen by
JOB_COMPLETION_INDEX in a generated `sh -c` case, as SLURM's batch script chooses them by array
index: parameters travel as explicit arguments. The labels find the Job and its pods again; the annotations keep the full names.
"""

from __future__ import annotations

import copy
import shlex
from collections.abc import Iterable
from typing import Any

from backends.kubernetes.naming import JOB, MANAGED_BY, SESSION, TAG, TASKS, job_name, label_value
from monitor.model import SubmitRequest, TaskSpec

DEFAULT_CONTAINER = "main"


def ordered_tasks(request: SubmitRequest) -> list[TaskSpec]:
    """The tasks in completion-index order."""
    return sorted(request.tasks, key=lambda t: -1 if t.index is None else t.index)


def build_job(
    request: SubmitRequest, namespace: str, ttl_after_finished: int | None = None
) -> dict[str, Any]:
    """The Job to create, from the job template in `request.extra` (if any) with jobdeck's fields
    filled in. ValueError names what is missing (an image, a command) or inconsistent."""
    _check_tasks(request)
    extra = request.extra
    job = copy.deepcopy(extra.get("job_template") or {})
    job.update(apiVersion="batch/v1", kind="Job")
    name = job_name(request.name, request.tag)
    labels = {
        MANAGED_BY: "jobdeck",
        SESSION: label_value(request.session),
        JOB: label_value(request.name),
        TAG: label_value(request.tag),
    }
    meta = job.setdefault("metadata", {})
    meta.pop("generateName", None)
    meta.update(name=name, namespace=namespace)
    meta["labels"] = {**(meta.get("labels") or {}), **labels}
    annotations = {SESSION: request.session, JOB: request.name, TAG: request.tag}
    if request.is_array:
        annotations[TASKS] = ",".join(str(t.index) for t in ordered_tasks(request))
    meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    spec = job.setdefault("spec", {})
    pod = spec.setdefault("template", {})
    pod_meta = pod.setdefault("metadata", {})
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), **labels}
    pod_spec = pod.setdefault("spec", {})
    pod_spec.setdefault("restartPolicy", "Never")
    containers = pod_spec.get("containers") or [{}]
    pod_spec["containers"] = containers
    _fill_container(containers[0], request)
    backoff = int(extra.get("backoff_limit", 0))
    for key in ("backoffLimit", "backoffLimitPerIndex", "completionMode", "completions", "parallelism"):
        spec.pop(key, None)
    if request.is_array:
        count = len(request.tasks)
        spec.update(
            completionMode="Indexed", completions=count, parallelism=count, backoffLimitPerIndex=backoff
        )
    else:
        spec.update(completions=1, parallelism=1, backoffLimit=backoff)
    if ttl_after_finished is not None:
        spec["ttlSecondsAfterFinished"] = ttl_after_finished
    return job


def _fill_container(container: dict[str, Any], request: SubmitRequest) -> None:
    """The template's image and command when it sets them, else the manifest's; the task's arguments."""
    container.setdefault("name", DEFAULT_CONTAINER)
    image = container.get("image") or request.extra.get("image")
    if not image:
        raise ValueError(f"job {request.name}: no image (set `image`, or one in the job template)")
    command = list(container.get("command") or request.extra.get("command") or [])
    if not command:
        raise ValueError(f"job {request.name}: no command (set `command`, or one in the job template)")
    template_args = tuple(container.pop("args", None) or ())
    container["image"] = image
    if request.is_array:
        container["command"] = ["/bin/sh", "-c", index_script(request, command, template_args), "jobdeck"]
    else:
        container["command"] = command
        container["args"] = list(request.tasks[0].args or template_args)


def index_script(request: SubmitRequest, command: Iterable[str], default_args: tuple[str, ...] = ()) -> str:
    """`sh -c` text: the arguments of the task this completion index runs, then `exec command "$@"`;
    every word shell-quoted so it arrives literally."""
    lines = ['case "$JOB_COMPLETION_INDEX" in']
    for position, task in enumerate(ordered_tasks(request)):
        lines.append(f"{position}) {_set_args(task.args or default_args)} ;;  # task {task.index}")
    lines.append(
        '*) echo "jobdeck: completion index $JOB_COMPLETION_INDEX has no task in this submission" >&2;'
        " exit 2 ;;"
    )
    lines.append("esac")
    lines.append(" ".join(["exec", *(shlex.quote(word) for word in command), '"$@"']))
    return "\n".join(lines) + "\n"


def _set_args(args: Iterable[str]) -> str:
    return " ".join(["set", "--", *(shlex.quote(arg) for arg in args)])


def _check_tasks(request: SubmitRequest) -> None:
    indices = [task.index for task in request.tasks]
    if request.is_array:
        if not indices or any(i is None or i < 0 for i in indices) or len(set(indices)) != len(indices):
            raise ValueError(f"job {request.name}: an array needs distinct task indices >= 0, got {indices}")
    elif indices != [None]:
        raise ValueError(f"job {request.name}: a plain job needs one task without an index, got {indices}")
    for word in (arg for task in request.tasks for arg in task.args):
        if "\0" in word:
            raise ValueError(f"job {request.name}: a NUL byte cannot be passed in {word!r}")
