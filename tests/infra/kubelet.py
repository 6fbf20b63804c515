"""The test kubelet: one Ready node for the test control plane (tests/infra/k8s.sh), so Jobs run for
real without containers. It registers the node and renews its Lease, binds every unscheduled pod to
it (standing in for the scheduler), runs each pod's containers as local processes
(tests/infra/kubelet_pods.py), finishes their deletion, and serves their logs to the API server
(tests/infra/kubelet_logs.py).

    python tests/infra/kubelet.py --kubeconfig K --node N --port P --cert C --key K --client-ca CA --work DIR
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kubelet_logs import LogFile, LogServer, rfc3339_nano
from kubelet_pods import Json, PodRunner, seconds
from kubernetes.client import ApiClient, Configuration, CoordinationV1Api, CoreV1Api
from kubernetes.client.exceptions import ApiException
from kubernetes.config.kube_config import load_kube_config

TIMEOUT = (5, 20)  # (connect, read) seconds on every call to the API server
SYNC_PAUSE = 0.3  # seconds between two lists of the pods
HEARTBEAT = 10.0  # seconds between renewals of the node's Lease and Ready condition
LEASE_NAMESPACE = "kube-node-lease"


def note(text: str) -> None:
    print(f"{rfc3339_nano(time.time())} {text}", file=sys.stderr, flush=True)


def call(request: Any, *args: Any, **kwargs: Any) -> Json:
    """A client call with the timeout, its raw JSON answer parsed."""
    answer = request(*args, **kwargs, _request_timeout=TIMEOUT, _preload_content=False)
    try:
        return json.loads(answer.data or b"{}")
    finally:
        answer.release_conn()


class Kubelet:
    def __init__(self, api: ApiClient, node: str, port: int, work: Path) -> None:
        self.core = CoreV1Api(api)
        self.leases = CoordinationV1Api(api)
        self.node = node
        self.port = port
        self.work = work
        self.pods: dict[str, PodRunner] = {}  # by uid
        self.finishing: set[str] = set()  # uids being stopped for deletion
        self.lock = threading.Lock()

    # -- the node --------------------------------------------------------------------------------

    def node_status(self) -> Json:
        now = seconds(time.time())
        conditions = [
            {"type": kind, "status": "False", "reason": f"KubeletHas{reason}", "lastHeartbeatTime": now,
             "lastTransitionTime": now, "message": ""}
            for kind, reason in (("MemoryPressure", "SufficientMemory"), ("DiskPressure", "NoDiskPressure"),
                                 ("PIDPressure", "SufficientPID"))
        ]  # fmt: skip
        conditions.append({"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now,
                           "lastTransitionTime": now, "message": "the test kubelet is posting ready status"})  # fmt: skip
        resources = {"cpu": "8", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        return {
            "capacity": resources, "allocatable": resources, "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": self.node}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "", "osImage": "",
                         "containerRuntimeVersion": "jobdeck://local-processes", "kubeletVersion": "v1.37.2",
                         "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"},
        }  # fmt: skip

    def register(self) -> None:
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node, "labels": {
            "kubernetes.io/hostname": self.node, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}}}  # fmt: skip
        try:
            call(self.core.create_node, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
        self.heartbeat()
        note(f"node {self.node} registered, kubelet port {self.port}")

    def heartbeat(self) -> None:
        call(self.core.patch_node_status, self.node, {"status": self.node_status()})
        renew = {"spec": {"holderIdentity": self.node, "leaseDurationSeconds": 40,
                          "renewTime": rfc3339_nano(time.time())[:26] + "Z"}}  # fmt: skip
        try:
            call(self.leases.patch_namespaced_lease, self.node, LEASE_NAMESPACE, renew)
        except ApiException as exc:
            if exc.status != 404:
                raise
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.node},
                **renew,
            }
            call(self.leases.create_namespaced_lease, LEASE_NAMESPACE, lease)

    def beat(self) -> None:
        while True:
            time.sleep(HEARTBEAT)
            try:
                self.heartbeat()
            except Exception as exc:  # shown, and tried again at the next beat
                note(f"heartbeat failed: {exc}")

    # -- pods ------------------------------------------------------------------------------------

    def sync(self) -> None:
        """One look at every pod: bind the unscheduled, start ours, finish deletions, forget the gone."""
        listed = call(self.core.list_pod_for_all_namespaces)["items"]
        seen = set()
        for pod in listed:
            meta, spec = pod["metadata"], pod["spec"]
            uid = meta["uid"]
            seen.add(uid)
            if not spec.get("nodeName"):
                if not meta.get("deletionTimestamp"):
                    self.bind(pod)
                continue
            if spec["nodeName"] != self.node:
                continue
            phase = (pod.get("status") or {}).get("phase")
            if meta.get("deletionTimestamp"):
                if uid not in self.finishing:
                    self.finishing.add(uid)
                    threading.Thread(target=self.finish, args=(pod,), daemon=True).start()
            elif uid not in self.pods and phase not in ("Succeeded", "Failed"):
                with self.lock:
                    self.pods[uid] = PodRunner(pod, self.work, self.report)
                self.pods[uid].start()
        with self.lock:
            for uid in set(self.pods) - seen:  # deleted at once (grace period 0) by someone else
                threading.Thread(target=self.pods.pop(uid).stop, args=(0,), daemon=True).start()
        self.finishing &= seen

    def bind(self, pod: Json) -> None:
        meta = pod["metadata"]
        target = {"apiVersion": "v1", "kind": "Node", "name": self.node}
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": meta["name"]}, "target": target}
        try:
            call(self.core.create_namespaced_pod_binding, meta["name"], meta["namespace"], body)
        except ApiException as exc:
            if exc.status != 409:  # bound meanwhile
                note(f"bind {meta['namespace']}/{meta['name']}: {exc.status} {exc.reason}")

    def report(self, runner: PodRunner) -> None:
        meta = runner.pod["metadata"]
        try:
            call(
                self.core.patch_namespaced_pod_status,
                meta["name"],
                meta["namespace"],
                {"status": runner.status()},
            )
        except ApiException as exc:
            if exc.status != 404:  # deleted meanwhile
                note(f"status of {meta['namespace']}/{meta['name']}: {exc.status} {exc.reason}")
        except Exception as exc:  # a transport failure: shown; the next change reports again
            note(f"status of {meta['namespace']}/{meta['name']}: {exc}")

    def finish(self, pod: Json) -> None:
        """A deleted pod: stop its processes within the grace period, then remove it for good."""
        meta = pod["metadata"]
        with self.lock:
            runner = self.pods.get(meta["uid"])
        if runner is not None:
            runner.stop(float(meta.get("deletionGracePeriodSeconds") or 0))
        try:
            call(self.core.delete_namespaced_pod, meta["name"], meta["namespace"],
                 body={"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}})  # fmt: skip
        except ApiException as exc:
            if exc.status not in (404, 409):  # gone, or a newer pod of that name
                note(f"delete {meta['namespace']}/{meta['name']}: {exc.status} {exc.reason}")
        with self.lock:
            self.pods.pop(meta["uid"], None)

    def find_log(self, namespace: str, pod: str, container: str, previous: bool) -> LogFile | str:
        with self.lock:
            runner = next(
                (r for r in self.pods.values() if (r.pod["metadata"]["namespace"], r.pod["metadata"]["name"]) == (namespace, pod)),
                None,
            )  # fmt: skip
        if runner is None:
            return f'pod "{pod}" in namespace "{namespace}" is not running on node {self.node}'
        return runner.log(container, previous)

    def shutdown(self, *_: object) -> None:
        """SIGTERM: the pods' processes end with the kubelet, so a stopped control plane leaves none."""
        with self.lock:
            runners = list(self.pods.values())
        for runner in runners:
            runner.stop(0)
        note("stopped")
        sys.exit(0)

    def run(self) -> None:
        while True:
            try:
                self.sync()
            except Exception as exc:  # shown, and tried again after the pause
                note(f"sync failed: {exc}")
            time.sleep(SYNC_PAUSE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for flag in ("--kubeconfig", "--node", "--cert", "--key", "--client-ca", "--work"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    configuration = Configuration()
    load_kube_config(config_file=args.kubeconfig, client_configuration=configuration, persist_config=False)
    api = ApiClient(configuration)
    kubelet = Kubelet(api, args.node, args.port, Path(args.work))
    server = LogServer(args.port, Path(args.cert), Path(args.key), Path(args.client_ca), kubelet.find_log)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, kubelet.shutdown)
    kubelet.register()
    threading.Thread(target=kubelet.beat, daemon=True).start()
    kubelet.run()


if __name__ == "__main__":
    main()
