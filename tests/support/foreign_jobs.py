"""Jobs as a user writes them for `kubectl apply`, not as jobdeck makes them: what "My jobs" must
list with their facts. Used by the real-API-server tests and by the fixture capture
(tests/fixtures/kubernetes/capture.py). The test kubelet runs `command` as a local process; its
`jobdeck.test/fault` annotation stands in for OOMKilled, Evicted and ImagePullBackOff."""

from __future__ import annotations

from typing import Any

FAULT = "jobdeck.test/fault"
FAULT_AFTER = "jobdeck.test/fault-after"


def foreign_job(
    name: str,
    script: str,
    *,
    labels: dict[str, str] | None = None,
    completions: int | None = None,
    deadline: int | None = None,
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    fault: str | None = None,
    suspend: bool = False,
) -> dict[str, Any]:
    """A batch/v1 Job running `sh -c script` once (or an Indexed Job of `completions`), never retried."""
    pod_meta: dict[str, Any] = {"labels": dict(labels or {})}
    if fault is not None:
        pod_meta["annotations"] = {FAULT: fault, FAULT_AFTER: "1"}
    container: dict[str, Any] = {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script]}
    if requests or limits:
        container["resources"] = {"requests": dict(requests or {}), "limits": dict(limits or {})}
    spec: dict[str, Any] = {
        "template": {"metadata": pod_meta, "spec": {"restartPolicy": "Never", "containers": [container]}},
    }
    if completions is None:
        spec["backoffLimit"] = 0
    else:
        spec.update(completionMode="Indexed", completions=completions, parallelism=completions,
                    backoffLimitPerIndex=0)  # fmt: skip
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    if suspend:
        spec["suspend"] = True
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": dict(labels or {})},
        "spec": spec,
    }


def job_set(prefix: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    """One Job of each kind "My jobs" tells apart, named `prefix-KIND`: running (with its resources
    and a deadline), done, failed (exit 3), an Indexed Job of 3 whose index 1 fails, OOMKilled,
    Evicted, ImagePullBackOff, past its deadline, and suspended."""
    return [
        foreign_job(f"{prefix}-running", "sleep 600", labels=labels, deadline=3600,
                    requests={"cpu": "1500m", "memory": "256Mi"}, limits={"nvidia.com/gpu": "1"}),
        foreign_job(f"{prefix}-done", "echo done", labels=labels, requests={"cpu": "2", "memory": "1G"}),
        foreign_job(f"{prefix}-failed", "echo failing >&2; exit 3", labels=labels),
        foreign_job(f"{prefix}-array", 'test "$JOB_COMPLETION_INDEX" != 1 || exit 4', labels=labels,
                    completions=3),
        foreign_job(f"{prefix}-oom", "sleep 60", labels=labels, fault="OOMKilled"),
        foreign_job(f"{prefix}-evicted", "sleep 60", labels=labels, fault="Evicted"),
        foreign_job(f"{prefix}-pull", "sleep 60", labels=labels, fault="ImagePullBackOff"),
        foreign_job(f"{prefix}-deadline", "sleep 600", labels=labels, deadline=2),
        foreign_job(f"{prefix}-held", "sleep 1", labels=labels, suspend=True),
    ]  # fmt: skip
