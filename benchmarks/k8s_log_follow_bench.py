"""What following a running pod's log costs on the real API server: bytes transferred by jobdeck's
follow (the log kept, then only lines since the last one seen) against reading the whole log at
every refresh, as jobdeck did before; and the time one refresh takes each way.

Run (the test control plane up: tests/infra/k8s.sh start; source /tmp/jobdeck-k8s/env.sh):
    .venv/bin/python benchmarks/k8s_log_follow_bench.py [--before-mb 2] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid

from kubernetes.client import BatchV1Api, CoreV1Api
from log_tail_bench import machine

from backends.kubernetes.backend import KubernetesBackend
from backends.kubernetes.connection import Settings
from monitor.log_tail import LogTail

TIMEOUT = (5, 60)
LINE = "step %08d loss=0.1234 lr=3e-4 throughput=1234.5 samples/s"


def script(before_mb: float, seconds: float) -> str:
    """The pod's command: `before_mb` of log at once, then ten lines a second."""
    count = int(before_mb * 1024 * 1024 / (len(LINE % 0) + 1))
    return (f"i=0; while [ $i -lt {count} ]; do printf '{LINE}\\n' $i; i=$((i+1)); done; "
            f"j=0; while [ $j -lt {int(seconds * 10)} ]; do printf '{LINE}\\n' $j; j=$((j+1)); sleep 0.1; done")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before-mb", type=float, default=2.0, help="log written before the follow starts")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the pod writes, and the follow")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between refreshes")
    args = parser.parse_args()
    kubeconfig = os.environ["KUBECONFIG"]
    backend = KubernetesBackend("bench", settings=Settings(kubeconfig), timeout=60.0)
    connection = await backend._connect()
    namespace, name = connection.namespace, f"logbench-{uuid.uuid4().hex[:8]}"
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {"backoffLimit": 0,
           "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36",
           "command": ["sh", "-c", script(args.before_mb, args.seconds)]}]}}}}  # fmt: skip
    BatchV1Api(connection.api).create_namespaced_job(namespace, job, _request_timeout=TIMEOUT)
    core = CoreV1Api(connection.api)
    try:
        pod = None
        while pod is None:
            pods = core.list_namespaced_pod(
                namespace, label_selector=f"job-name={name}", _request_timeout=TIMEOUT
            ).items
            if pods and pods[0].status.phase == "Running":
                pod = pods[0].metadata.name
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # the first part written
        path = f"k8s://{namespace}/{pod}/main"
        tail = LogTail(backend.read_bytes, path, tail_bytes=64 * 1024)
        await tail.open()
        at_open = backend._copies.transferred
        whole_bytes, follow_ms, whole_ms, shown = 0, [], [], 0
        polls = int(args.seconds / args.every)
        for _ in range(polls):
            await asyncio.sleep(args.every)
            started = time.perf_counter()
            shown += len((await tail.poll()).lines)
            follow_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            answer = core.read_namespaced_pod_log(pod, namespace, container="main", _preload_content=False,
                                                  _request_timeout=TIMEOUT)  # fmt: skip
            whole_bytes += len(answer.data)
            whole_ms.append((time.perf_counter() - started) * 1000)
        follow_bytes = backend._copies.transferred
        print(f"machine: {machine()}")
        print(f"log before the follow: {args.before_mb} MB; then 10 lines/s for {args.seconds:.0f} s; "
              f"{polls} refreshes, one every {args.every:g} s; {shown} new lines shown")  # fmt: skip
        print(f"jobdeck follow (sinceTime): {at_open:,} bytes at the open (the whole log, timestamped), then "
              f"{follow_bytes - at_open:,} bytes for the {polls} refreshes; median refresh "
              f"{statistics.median(follow_ms):.1f} ms")  # fmt: skip
        print(f"whole log at every refresh: {whole_bytes:,} bytes transferred, "
              f"median refresh {statistics.median(whole_ms):.1f} ms")  # fmt: skip
        print(
            f"refreshes: {whole_bytes / max(1, follow_bytes - at_open):.0f}x fewer bytes; with the open: "
            f"{whole_bytes / max(1, follow_bytes):.1f}x; "
            + json.dumps(
                {"open_bytes": at_open, "refresh_bytes": follow_bytes - at_open, "whole_bytes": whole_bytes}
            )
        )
    finally:
        BatchV1Api(connection.api).delete_namespaced_job(name, namespace, propagation_policy="Background",
                                                         _request_timeout=TIMEOUT)  # fmt: skip
        await backend.close()


if __name__ == "__main__":
    asyncio.run(main())
