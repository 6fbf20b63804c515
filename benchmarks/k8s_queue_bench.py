"""What listing the user's queue on Kubernetes costs with 1,000 Jobs: `list_queue` against the real
API server (one list of Jobs by the cluster's selector, one of Jobs' pods, mapped to entries) next to
the two bare lists it makes, and the mapping alone of 1,000 finished Jobs with their pods.

The Jobs are created suspended (no pods: the test kubelet runs each pod as a process, and 1,000 of
them would measure the machine); the mapping with pods is measured on copies of the Jobs and pods
captured from the real API server (tests/fixtures/kubernetes).

Run (the test control plane up: tests/infra/k8s.sh start; source /tmp/jobdeck-k8s/env.sh):
    .venv/bin/python benchmarks/k8s_queue_bench.py [--jobs 1000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes.client import BatchV1Api, CoreV1Api
from log_tail_bench import machine

from backends.kubernetes.backend import KubernetesBackend
from backends.kubernetes.connection import Settings
from backends.kubernetes.naming import JOB_NAME_LABEL
from backends.kubernetes.queue_entries import queue_entries

TIMEOUT = (5, 60)
LABEL = "jobdeck.bench/queue"
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "kubernetes"


def suspended(name: str, run: str) -> dict[str, Any]:
    container = {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "exit 0"],
                 "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}  # fmt: skip
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "labels": {LABEL: run}},
            "spec": {"suspend": True, "backoffLimit": 0, "activeDeadlineSeconds": 3600,
                     "template": {"spec": {"restartPolicy": "Never", "containers": [container]}}}}  # fmt: skip


def copies(count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`count` Jobs with their pods: the captured ones over and over, each copy renamed."""
    jobs = json.loads((FIXTURES / "jobs.json").read_text())["items"]
    pods = json.loads((FIXTURES / "pods.json").read_text())["items"]
    made_jobs, made_pods = [], []
    for n in range(count):
        job = copy.deepcopy(jobs[n % len(jobs)])
        old = job["metadata"]["name"]
        job["metadata"]["name"] = f"{old}-{n}"
        made_jobs.append(job)
        for pod in pods:
            if pod["metadata"]["labels"].get(JOB_NAME_LABEL) == old:
                pod = copy.deepcopy(pod)
                pod["metadata"]["labels"][JOB_NAME_LABEL] = job["metadata"]["name"]
                made_pods.append(pod)
    return made_jobs, made_pods


def timed_ms(repeat: int, call: Any) -> list[float]:
    found = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        found.append((time.perf_counter() - started) * 1000)
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    backend = KubernetesBackend("bench", settings=Settings(os.environ["KUBECONFIG"]), timeout=60.0,
                                queue_selector=f"{LABEL}={run}")  # fmt: skip
    connection = await backend._connect()
    batch, core, namespace = BatchV1Api(connection.api), CoreV1Api(connection.api), connection.namespace
    names = [f"qbench-{run}-{n}" for n in range(args.jobs)]
    with ThreadPoolExecutor(4) as pool:
        started = time.perf_counter()
        list(pool.map(lambda name: batch.create_namespaced_job(
            namespace, suspended(name, run), _request_timeout=TIMEOUT, _preload_content=False), names))  # fmt: skip
        created_s = time.perf_counter() - started
    try:
        listing_ms, bare_ms = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            report = await backend.list_queue(0.0)
            listing_ms.append((time.perf_counter() - started) * 1000)
            assert len(report.entries) == args.jobs and not report.notices, (
                len(report.entries),
                report.notices,
            )
            started = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:
                both = [pool.submit(batch.list_namespaced_job, namespace, label_selector=f"{LABEL}={run}",
                                    _request_timeout=TIMEOUT, _preload_content=False),
                        pool.submit(core.list_namespaced_pod, namespace, label_selector=JOB_NAME_LABEL,
                                    _request_timeout=TIMEOUT, _preload_content=False)]  # fmt: skip
                [json.loads(answer.result().data) for answer in both]
            bare_ms.append((time.perf_counter() - started) * 1000)
        made_jobs, made_pods = copies(args.jobs)
        mapping_ms = timed_ms(args.repeat, lambda: queue_entries("bench", made_jobs, made_pods, 0.0))
        listing, bare = statistics.median(listing_ms), statistics.median(bare_ms)
        print(f"machine: {machine()}")
        print(f"{args.jobs} suspended Jobs created in {created_s:.1f} s; {args.repeat} listings each way")
        print(f"list_queue (real API server, {args.jobs} Jobs): median {listing:.1f} ms "
              f"(min {min(listing_ms):.1f}, max {max(listing_ms):.1f})")  # fmt: skip
        print(f"bare lists of Jobs and of pods, both at once, JSON parsed: median {bare:.1f} ms; "
              f"ratio {listing / bare:.2f}")  # fmt: skip
        print(f"mapping alone, {len(made_jobs)} captured Jobs with {len(made_pods)} pods: "
              f"median {statistics.median(mapping_ms):.1f} ms")  # fmt: skip
    finally:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda name: batch.delete_namespaced_job(
                name, namespace, propagation_policy="Background", _request_timeout=TIMEOUT,
                _preload_content=False), names))  # fmt: skip
        await backend.close()


if __name__ == "__main__":
    asyncio.run(main())
