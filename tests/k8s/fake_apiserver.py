"""A small, faithful stand-in for kube-apiserver: real HTTP on 127.0.0.1, Kubernetes JSON, one thread.

It stores batch/v1 Jobs and v1 Pods the way the API server shows them (metadata with uid,
resourceVersion, creationTimestamp, labels; defaults filled in; `status`), answers errors with
`Status` objects (401, 404, 409, 422, 400), filters lists by label selector, serves pod logs
(tailLines, limitBytes, previous, follow), and deletes with the propagation policy asked for (a Job's
default is orphan, as in batch/v1). A tiny job controller creates one Pending pod per index when a
Job is created, replaces failed pods within the backoff limits, and sets the Job's status
(active/succeeded/failed, completedIndexes/failedIndexes, Complete/Failed conditions) whenever a
test moves a pod. Tests drive it through plain methods (run, succeed, fail, evict, set_log, ...),
never through HTTP, and can stop and start it to make the API server unreachable.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import re
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_INT32 = 2**31 - 1
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # what the API server's generateName draws from
_TERMINAL_PHASES = ("Succeeded", "Failed")


def _stamp_ns(ns: int) -> str:
    """RFC 3339 with nine fractional digits, as the kubelet stamps log lines."""
    return f"{datetime.fromtimestamp(ns // 10**9, UTC):%Y-%m-%dT%H:%M:%S}.{ns % 10**9:09d}Z"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]


class ApiError(Exception):
    """Answered as a Kubernetes Status object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}  # fmt: skip
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(kind: str, group: str, name: str) -> ApiError:
    resource = f"{kind}.{group}" if group else kind
    return ApiError(
        404, "NotFound", f'{resource} "{name}" not found', {"name": name, "group": group, "kind": kind}
    )


def invalid(name: str, causes: list[tuple[str, str]]) -> ApiError:
    text = "; ".join(f"{field}: {message}" for field, message in causes)
    details = {"name": name, "group": "batch", "kind": "Job",
               "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes]}  # fmt: skip
    return ApiError(422, "Invalid", f'Job.batch "{name}" is invalid: {text}', details)


def compress(indexes: Iterable[int]) -> str:
    """ "1,3-5" as the job controller writes completedIndexes and failedIndexes."""
    ranges: list[list[int]] = []
    for i in sorted(set(indexes)):
        if ranges and ranges[-1][1] == i - 1:
            ranges[-1][1] = i
        else:
            ranges.append([i, i])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


# -- label selectors ---------------------------------------------------------------------------------

_TERM = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<absent>[^\s,!=()]+)"
    r"|(?P<key>[^\s,!=()]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[^\s,()]*)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^()]*)\))?)\s*(?:,|$)"
)


def parse_selector(text: str) -> list[Callable[[dict[str, str]], bool]]:
    """Requirements of a label selector (=, ==, !=, in, notin, exists, !exists); ApiError 400 if bad."""
    tests: list[Callable[[dict[str, str]], bool]] = []
    position = 0
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None or match.end() == position:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {text[position:]!r}")
        position = match.end()
        if match["absent"]:
            key = match["absent"]
            tests.append(lambda labels, key=key: key not in labels)
        elif match["op"]:
            key, value, negate = match["key"], match["value"], match["op"] == "!="
            tests.append(lambda labels, k=key, v=value, n=negate: (labels.get(k) == v) != n)
        elif match["set"]:
            key, values = match["key"], {v.strip() for v in match["values"].split(",") if v.strip()}
            negate = match["set"] == "notin"
            tests.append(lambda labels, k=key, vs=values, n=negate: (labels.get(k) in vs) != n)
        else:
            key = match["key"]
            tests.append(lambda labels, k=key: k in labels)
    return tests


def matches(selector: str | None, obj: dict[str, Any]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    return all(test(labels) for test in parse_selector(selector or ""))


# -- the server --------------------------------------------------------------------------------------


class FakeApiServer:
    """Start with `start()`; `url` is its address. Every method is safe to call from any thread."""

    def __init__(self, *, token: str | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.token = token
        self.tls = tls
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.logs: dict[tuple[str, str, str, bool], bytes] = {}  # (namespace, pod, container, previous)
        self.log_times: dict[tuple[str, str, str, bool], list[str]] = {}  # when each line was written
        self.requests: list[Seen] = []
        self.stall = 0.0  # seconds every request waits before being answered (an API server that hangs)
        self._lock = threading.RLock()
        self._version = 0
        self._port = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()

    # -- lifecycle

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> None:
        """Listen (again, on the same port after a stop)."""
        handler = type("Handler", (_Handler,), {"api": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        httpd.daemon_threads = True
        if self.tls is not None:
            httpd.socket = self.tls.wrap_socket(httpd.socket, server_side=True)
        self._port = httpd.server_address[1]
        self._httpd = httpd
        threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name=f"fake-apiserver-{self._port}", daemon=True
        ).start()

    def stop(self) -> None:
        """Stop answering: the port is closed and every open connection is cut."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections, self._connections = set(self._connections), set()
        for sock in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                sock.shutdown(socket.SHUT_RDWR)

    def count(self, method: str, path: str) -> int:
        """How many requests had this method and exactly this path."""
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    # -- test-side API: pods

    def pods_of(self, job: str, namespace: str = "default") -> list[dict[str, Any]]:
        """The job's pods, by completion index then age (copies)."""
        with self._lock:
            found = [copy.deepcopy(p) for p in self._pods_of(namespace, job)]
        return found

    def pod(self, job: str, index: int | None = None, namespace: str = "default") -> str:
        """The name of the newest pod of `job` (of completion `index` for an Indexed Job)."""
        with self._lock:
            pods = [p for p in self._pods_of(namespace, job) if index is None or _index_of(p) == index]
            if not pods:
                raise KeyError(f"no pod of job {job} index {index} in {namespace}")
            return pods[-1]["metadata"]["name"]

    def run(self, pod: str, namespace: str = "default") -> None:
        now = now_rfc3339()

        def change(p: dict[str, Any]) -> None:
            p["spec"].setdefault("nodeName", "node-1")
            status = p["status"]
            status.update(phase="Running", startTime=status.get("startTime") or now, hostIP="10.0.0.1",
                          podIP=f"10.1.0.{random.randint(2, 250)}")  # fmt: skip
            status["conditions"] = [
                {"type": t, "status": "True", "lastTransitionTime": now}
                for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ]
            for c in status["containerStatuses"]:
                c.update(state={"running": {"startedAt": now}}, ready=True, started=True)

        self._change_pod(namespace, pod, change)

    def succeed(self, pod: str, namespace: str = "default") -> None:
        self._terminate(namespace, pod, "Succeeded", 0, "Completed")

    def fail(self, pod: str, exit_code: int = 1, reason: str = "Error", namespace: str = "default") -> None:
        """The container ended with `exit_code` ("OOMKilled" with 137 is the kernel's OOM killer)."""
        self._terminate(namespace, pod, "Failed", exit_code, reason)

    def evict(self, pod: str, namespace: str = "default") -> None:
        """The kubelet evicted the pod under node pressure: the pod's own reason is Evicted."""
        self._terminate(namespace, pod, "Failed", 137, "ContainerStatusUnknown", pod_reason="Evicted",
                        message="The node was low on resource: memory.")  # fmt: skip

    def wait(self, pod: str, reason: str, message: str = "", namespace: str = "default") -> None:
        """The container waits to start (ImagePullBackOff, ErrImagePull, CrashLoopBackOff, ...)."""

        def change(p: dict[str, Any]) -> None:
            for c in p["status"]["containerStatuses"]:
                c.update(
                    state={"waiting": {"reason": reason, "message": message}}, ready=False, started=False
                )

        self._change_pod(namespace, pod, change)

    def restart_container(
        self, pod: str, exit_code: int, reason: str = "Error", namespace: str = "default"
    ) -> None:
        """restartPolicy OnFailure: the container ended and the kubelet started it again; its log so far
        becomes the `previous` log."""

        def change(p: dict[str, Any]) -> None:
            now = now_rfc3339()
            for c in p["status"]["containerStatuses"]:
                ended = {"exitCode": exit_code, "reason": reason, "startedAt": now, "finishedAt": now}
                c.update(lastState={"terminated": ended}, restartCount=c.get("restartCount", 0) + 1,
                         state={"running": {"startedAt": now}})  # fmt: skip
                key = (namespace, pod, c["name"], False)
                self.logs[(namespace, pod, c["name"], True)] = self.logs.pop(key, b"")
                self.log_times[(namespace, pod, c["name"], True)] = self.log_times.pop(key, [])

        self._change_pod(namespace, pod, change)

    def set_log(self, pod: str, text: str | bytes, container: str | None = None, previous: bool = False,
                namespace: str = "default") -> None:  # fmt: skip
        with self._lock:
            stored = self._get(self.pods, namespace, pod, "pods", "")
            name = container or stored["spec"]["containers"][0]["name"]
            key = (namespace, pod, name, previous)
            data = text.encode() if isinstance(text, str) else text
            old = self.logs.get(key, b"").splitlines(keepends=True)
            new = data.splitlines(keepends=True)
            kept = next(
                (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new))
            )
            start = time.time_ns()
            stamps = self.log_times.get(key, [])[:kept]
            self.log_times[key] = stamps + [_stamp_ns(start + i) for i in range(len(new) - kept)]
            self.logs[key] = data

    def delete_pod_now(self, pod: str, namespace: str = "default") -> None:
        """Gone, as after the TTL controller or a node drain."""
        with self._lock:
            self._remove_pod(namespace, pod)

    # -- test-side API: jobs

    def job(self, name: str, namespace: str = "default") -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._get(self.jobs, namespace, name, "jobs", "batch"))

    def delete_job(self, name: str, namespace: str = "default", propagation: str = "Background") -> None:
        """Behind the monitor's back (kubectl delete job, the TTL controller)."""
        with self._lock:
            self._delete_job(namespace, name, propagation)

    def fail_job(self, name: str, reason: str, message: str = "", namespace: str = "default") -> None:
        """The job controller failing the whole Job (DeadlineExceeded, ...): its active pods are removed."""
        with self._lock:
            job = self._get(self.jobs, namespace, name, "jobs", "batch")
            self._finish(job, "Failed", reason, message or reason)

    def expire_finished(self) -> list[str]:
        """The TTL controller: delete finished Jobs whose ttlSecondsAfterFinished has passed."""
        now = time.time()
        gone = []
        with self._lock:
            for (namespace, name), job in list(self.jobs.items()):
                ttl = job["spec"].get("ttlSecondsAfterFinished")
                finished = _finished_at(job)
                if ttl is not None and finished is not None and now >= finished + ttl:
                    self._delete_job(namespace, name, "Background")
                    gone.append(name)
        return gone

    # -- HTTP side (called by the handler under the lock)

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: bytes, auth: str | None
               ) -> tuple[int, str, bytes]:  # fmt: skip
        self.requests.append(Seen(method, path, query))
        if self.stall:
            time.sleep(self.stall)
        try:
            if self.token is not None and (auth or "").lower() != f"bearer {self.token}".lower():
                raise ApiError(401, "Unauthorized", "Unauthorized")
            with self._lock:
                return self._route(method, path, query, body)
        except ApiError as error:
            return error.code, "application/json", json.dumps(error.status()).encode()

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, str, bytes]:
        one = {key: values[-1] for key, values in query.items()}
        for pattern, handlers in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            handler = handlers.get(method)
            if handler is None:
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            code, answer = handler(self, *match.groups(), one, body)
            if isinstance(answer, bytes):
                return code, "text/plain", answer
            return code, "application/json", json.dumps(answer).encode()
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _list(self, store: dict[tuple[str, str], dict[str, Any]], kind: str, api: str, namespace: str,
              query: dict[str, str]) -> tuple[int, dict[str, Any]]:  # fmt: skip
        selector = query.get("labelSelector")
        items = [
            _without_type(obj)
            for (ns, _), obj in sorted(store.items())
            if ns == namespace and matches(selector, obj)
        ]
        return 200, {"kind": f"{kind}List", "apiVersion": api,
                     "metadata": {"resourceVersion": str(self._version)}, "items": items}  # fmt: skip

    def list_jobs(self, namespace: str, query: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        return self._list(self.jobs, "Job", "batch/v1", namespace, query)

    def list_pods(self, namespace: str, query: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        return self._list(self.pods, "Pod", "v1", namespace, query)

    def get_job(
        self, namespace: str, name: str, query: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        return 200, self._get(self.jobs, namespace, name, "jobs", "batch")

    def get_pod(
        self, namespace: str, name: str, query: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        return 200, self._get(self.pods, namespace, name, "pods", "")

    def http_delete_job(self, namespace: str, name: str, query: dict[str, str], body: bytes
                        ) -> tuple[int, dict[str, Any]]:  # fmt: skip
        options = json.loads(body) if body.strip() else {}
        policy = query.get("propagationPolicy") or options.get("propagationPolicy") or "Orphan"
        job = self._delete_job(namespace, name, policy)
        if policy == "Foreground":  # the Job waits for its pods: the API server answers with it
            return 200, job
        details = {"name": name, "group": "batch", "kind": "jobs", "uid": job["metadata"]["uid"]}
        return 200, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }

    def http_delete_pod(self, namespace: str, name: str, query: dict[str, str], body: bytes
                        ) -> tuple[int, dict[str, Any]]:  # fmt: skip
        return 200, self._remove_pod(namespace, name)

    def create_job(self, namespace: str, query: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            job = json.loads(body)
        except ValueError as error:
            raise ApiError(400, "BadRequest", f"error decoding request body: {error}") from None
        meta = job.setdefault("metadata", {})
        name = meta.get("name") or ""
        if meta.get("namespace", namespace) != namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        _validate_job(job)
        if (namespace, name) in self.jobs:
            raise ApiError(409, "AlreadyExists", f'jobs.batch "{name}" already exists',
                           {"name": name, "group": "batch", "kind": "jobs"})  # fmt: skip
        job.update(apiVersion="batch/v1", kind="Job")
        uid = str(uuid.uuid4())
        meta.update(namespace=namespace, uid=uid, resourceVersion=self._next_version(),
                    creationTimestamp=now_rfc3339(), generation=1)  # fmt: skip
        _default_job(job, uid)
        self.jobs[(namespace, name)] = job
        created = {**copy.deepcopy(job), "status": {}}  # the answer: the job controller has not seen it yet
        if job["spec"]["suspend"]:
            job["status"] = {"conditions": [_condition("Suspended", "JobSuspended", "Job suspended")]}
        else:
            job["status"] = {
                "startTime": now_rfc3339(),
                "ready": 0,
                "uncountedTerminatedPods": {},
            }
            self._sync(job)
        return 201, created

    def pod_log(self, namespace: str, name: str, query: dict[str, str], body: bytes) -> tuple[int, bytes]:
        pod = self._get(self.pods, namespace, name, "pods", "")
        names = [c["name"] for c in pod["spec"]["containers"]]
        container = query.get("container")
        if container is None:
            if len(names) > 1:
                raise ApiError(400, "BadRequest", f"a container name must be specified for pod {name}, "
                                                  f"choose one of: [{' '.join(names)}]")  # fmt: skip
            container = names[0]
        if container not in names:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        previous = query.get("previous") == "true"
        key = (namespace, name, container, previous)
        status = next(c for c in pod["status"]["containerStatuses"] if c["name"] == container)
        if previous and key not in self.logs:
            raise ApiError(
                400, "BadRequest", f'previous terminated container "{container}" in pod "{name}" not found'
            )
        waiting = status["state"].get("waiting")
        if not previous and waiting and not status.get("restartCount"):
            raise ApiError(400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start: '
                                              f"{waiting.get('reason', 'ContainerCreating')}")  # fmt: skip
        lines = list(
            zip(self.log_times.get(key, []), self.logs.get(key, b"").splitlines(keepends=True), strict=True)
        )
        if "sinceTime" in query:
            lines = [(stamp, line) for stamp, line in lines if stamp >= query["sinceTime"].rstrip("Z")]
        if "tailLines" in query:
            count = int(query["tailLines"])
            lines = lines[-count:] if count > 0 else []
        stamped = query.get("timestamps") == "true"
        data = b"".join((f"{stamp} ".encode() if stamped else b"") + line for stamp, line in lines)
        if "limitBytes" in query:
            data = data[: int(query["limitBytes"])]
        return 200, data

    # -- the job controller

    def _sync(self, job: dict[str, Any]) -> None:
        """What the job controller does on any change of the job's pods."""
        if _finished_at(job) is not None or job["spec"]["suspend"]:
            return
        spec, status = job["spec"], job["status"]
        namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
        pods = self._pods_of(namespace, name)
        indexed = spec["completionMode"] == "Indexed"
        slots = range(spec["completions"]) if indexed else [None]
        per_index = spec.get("backoffLimitPerIndex")
        succeeded: set[int] = set()
        failed_indexes: set[int] = set()
        failures = sum(1 for p in pods if p["status"]["phase"] == "Failed")
        for slot in slots:
            mine = [p for p in pods if slot is None or _index_of(p) == slot]
            phases = [p["status"]["phase"] for p in mine]
            done = phases.count("Succeeded")
            if slot is not None and done:
                succeeded.add(slot)
                continue
            if slot is not None and per_index is not None and phases.count("Failed") > per_index:
                failed_indexes.add(slot)
                continue
            wanted = (spec["completions"] - done) if slot is None else 1
            active = sum(1 for ph in phases if ph not in _TERMINAL_PHASES)
            within_limit = per_index is not None or failures <= spec["backoffLimit"]
            for _ in range(max(0, min(wanted, spec["parallelism"]) - active) if within_limit else 0):
                self._create_pod(job, slot)
        pods = self._pods_of(namespace, name)
        for pod in pods:  # counted in the Job's status: the job controller lets the pod go
            if pod["status"]["phase"] in _TERMINAL_PHASES:
                pod["metadata"].pop("finalizers", None)
        status["active"] = sum(1 for p in pods if p["status"]["phase"] not in _TERMINAL_PHASES)
        status["ready"] = sum(1 for p in pods if p["status"]["phase"] == "Running")
        status["failed"] = failures
        status["succeeded"] = (
            len(succeeded) if indexed else sum(1 for p in pods if p["status"]["phase"] == "Succeeded")
        )
        if indexed and succeeded:
            status["completedIndexes"] = compress(succeeded)
            if per_index is not None:
                status["failedIndexes"] = compress(failed_indexes)
        for key in ("active", "failed", "succeeded"):  # omitted when zero, as the API server does
            if not status[key]:
                del status[key]
        job["metadata"]["resourceVersion"] = self._next_version()
        if per_index is None and failures > spec["backoffLimit"]:
            self._finish(job, "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif indexed and len(succeeded) + len(failed_indexes) == spec["completions"] and failed_indexes:
            self._finish(job, "Failed", "FailedIndexes", "Job has failed indexes")
        elif status.get("succeeded", 0) >= spec["completions"]:
            self._finish(job, "Complete", None, None)

    def _finish(self, job: dict[str, Any], kind: str, reason: str | None, message: str | None) -> None:
        namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
        for pod in self._pods_of(namespace, name):
            if pod["status"]["phase"] not in _TERMINAL_PHASES:
                self._remove_pod(namespace, pod["metadata"]["name"])
        status = job["status"]
        status.pop("active", None)
        status["ready"] = 0
        status["conditions"] = [*status.get("conditions", []), _condition(kind, reason, message)]
        if kind == "Complete":
            status["completionTime"] = now_rfc3339()
        job["metadata"]["resourceVersion"] = self._next_version()

    def _create_pod(self, job: dict[str, Any], index: int | None) -> None:
        meta = job["metadata"]
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
        template = copy.deepcopy(job["spec"]["template"])
        prefix = f"{name}-{index}-" if index is not None else f"{name}-"
        pod_name = prefix + "".join(random.choice(_SUFFIX_CHARS) for _ in range(5))
        labels = dict(template.get("metadata", {}).get("labels") or {})
        annotations = dict(template.get("metadata", {}).get("annotations") or {})
        spec = template["spec"]
        if index is not None:
            labels[INDEX_LABEL] = str(index)
            annotations[INDEX_LABEL] = str(index)
            reference = {
                "fieldRef": {"apiVersion": "v1", "fieldPath": f"metadata.annotations['{INDEX_LABEL}']"}
            }
            for container in spec["containers"]:
                container.setdefault("env", []).append(
                    {"name": "JOB_COMPLETION_INDEX", "valueFrom": reference}
                )
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name, "generateName": prefix, "namespace": namespace, "uid": str(uuid.uuid4()),
                "resourceVersion": self._next_version(), "creationTimestamp": now_rfc3339(),
                "labels": labels, **({"annotations": annotations} if annotations else {}),
                "finalizers": ["batch.kubernetes.io/job-tracking"],
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid,
                                     "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": {**spec, "schedulerName": "default-scheduler", "serviceAccountName": "default"},
            "status": {
                "phase": "Pending", "qosClass": "BestEffort",
                "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339()}],
                "containerStatuses": [
                    {"name": c["name"], "image": c["image"], "imageID": "", "ready": False, "restartCount": 0,
                     "started": False, "state": {"waiting": {"reason": "ContainerCreating"}}}
                    for c in spec["containers"]
                ],
            },
        }  # fmt: skip
        self.pods[(namespace, pod_name)] = pod

    # -- helpers (under the lock)

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def _get(self, store: dict[tuple[str, str], dict[str, Any]], namespace: str, name: str, kind: str,
             group: str) -> dict[str, Any]:  # fmt: skip
        found = store.get((namespace, name))
        if found is None:
            raise not_found(kind, group, name)
        return found

    def _pods_of(self, namespace: str, job: str) -> list[dict[str, Any]]:
        pods = [
            p for (ns, _), p in self.pods.items()
            if ns == namespace and (p["metadata"].get("labels") or {}).get("batch.kubernetes.io/job-name") == job
        ]  # fmt: skip
        return sorted(pods, key=lambda p: (_index_of(p) or 0, int(p["metadata"]["resourceVersion"])))

    def _change_pod(self, namespace: str, pod: str, change: Callable[[dict[str, Any]], None]) -> None:
        with self._lock:
            stored = self._get(self.pods, namespace, pod, "pods", "")
            change(stored)
            stored["metadata"]["resourceVersion"] = self._next_version()
            job = self.jobs.get(
                (namespace, stored["metadata"]["labels"].get("batch.kubernetes.io/job-name", ""))
            )
            if job is not None:
                self._sync(job)

    def _terminate(self, namespace: str, pod: str, phase: str, exit_code: int, reason: str,
                   pod_reason: str | None = None, message: str | None = None) -> None:  # fmt: skip
        def change(p: dict[str, Any]) -> None:
            now = now_rfc3339()
            status = p["status"]
            status["phase"] = phase
            status.setdefault("startTime", now)
            if pod_reason:
                status.update(reason=pod_reason, message=message)
            for c in status["containerStatuses"]:
                started = (c["state"].get("running") or {}).get("startedAt", now)
                c.update(ready=False, started=False, state={"terminated": {
                    "exitCode": exit_code, "reason": reason, "startedAt": started, "finishedAt": now}})  # fmt: skip

        self._change_pod(namespace, pod, change)

    def _remove_pod(self, namespace: str, name: str) -> dict[str, Any]:
        pod = self._get(self.pods, namespace, name, "pods", "")
        del self.pods[(namespace, name)]
        for key in [k for k in self.logs if k[:2] == (namespace, name)]:
            del self.logs[key]
            self.log_times.pop(key, None)
        return pod

    def _delete_job(self, namespace: str, name: str, policy: str) -> dict[str, Any]:
        if policy not in ("Orphan", "Background", "Foreground"):
            raise ApiError(400, "BadRequest", f"unsupported propagationPolicy {policy!r}")
        job = self._get(self.jobs, namespace, name, "jobs", "batch")
        del self.jobs[(namespace, name)]
        for pod in self._pods_of(namespace, name):
            if policy == "Orphan":
                pod["metadata"].pop("ownerReferences", None)
            else:
                self._remove_pod(namespace, pod["metadata"]["name"])
        return job


def _index_of(pod: dict[str, Any]) -> int | None:
    value = (pod["metadata"].get("labels") or {}).get(INDEX_LABEL)
    return int(value) if value is not None else None


def _finished_at(job: dict[str, Any]) -> float | None:
    for condition in job.get("status", {}).get("conditions", []):
        if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
            stamp = datetime.strptime(condition["lastTransitionTime"], "%Y-%m-%dT%H:%M:%SZ")
            return stamp.replace(tzinfo=UTC).timestamp()
    return None


def _condition(kind: str, reason: str | None, message: str | None) -> dict[str, Any]:
    now = now_rfc3339()
    found = {"type": kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now}
    if reason:
        found.update(reason=reason, message=message or "")
    return found


def _without_type(obj: dict[str, Any]) -> dict[str, Any]:
    """List items carry no apiVersion/kind, as in the real API."""
    return {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("apiVersion", "kind")}


def _validate_job(job: dict[str, Any]) -> None:
    meta, spec = job["metadata"], job.get("spec") or {}
    name = meta.get("name") or ""
    causes: list[tuple[str, str]] = []
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    elif len(name) > 63 or not _DNS_LABEL.fullmatch(name):
        causes.append(("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of '
                                        "lower case alphanumeric characters or '-', and must be no more than 63 characters"))  # fmt: skip
    template = spec.get("template") or {}
    for where, labels in (("metadata.labels", meta.get("labels")),
                          ("spec.template.metadata.labels", (template.get("metadata") or {}).get("labels"))):  # fmt: skip
        for key, value in (labels or {}).items():
            if not _LABEL_NAME.fullmatch(key.rsplit("/", 1)[-1]) or len(key.rsplit("/", 1)[-1]) > 63:
                causes.append(
                    (where, f'Invalid value: "{key}": name part must consist of alphanumeric characters')
                )
            if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
                causes.append((where, f'Invalid value: "{value}": a valid label must be an empty string or consist '
                                      "of alphanumeric characters, '-', '_' or '.', at most 63 characters"))  # fmt: skip
    pod_spec = template.get("spec") or {}
    containers = pod_spec.get("containers") or []
    if not containers:
        causes.append(("spec.template.spec.containers", "Required value"))
    for position, container in enumerate(containers):
        if not container.get("image"):
            causes.append((f"spec.template.spec.containers[{position}].image", "Required value"))
        if not _DNS_LABEL.fullmatch(container.get("name") or ""):
            causes.append((f"spec.template.spec.containers[{position}].name", "Invalid value"))
    if pod_spec.get("restartPolicy") not in ("Never", "OnFailure"):
        causes.append(("spec.template.spec.restartPolicy",
                       f'Unsupported value: "{pod_spec.get("restartPolicy", "Always")}": supported values: "OnFailure", "Never"'))  # fmt: skip
    if spec.get("completionMode") == "Indexed" and spec.get("completions") is None:
        causes.append(("spec.completions", "Required value: when completion mode is Indexed"))
    if spec.get("backoffLimitPerIndex") is not None and spec.get("completionMode") != "Indexed":
        causes.append(("spec.backoffLimitPerIndex", "Invalid value: requires indexed completion mode"))
    if (spec.get("ttlSecondsAfterFinished") or 0) < 0:
        causes.append(("spec.ttlSecondsAfterFinished", "Invalid value: must be greater than or equal to 0"))
    if causes:
        raise invalid(name, causes)


def _default_job(job: dict[str, Any], uid: str) -> None:
    """The defaults the API server fills in, and the selector labels it adds."""
    spec = job["spec"]
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("completions", 1)
    spec.setdefault("parallelism", 1)
    spec.setdefault("suspend", False)
    spec.setdefault("backoffLimit", MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    ours = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": job["metadata"]["name"],
            "controller-uid": uid, "job-name": job["metadata"]["name"]}  # fmt: skip
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    template_meta = spec["template"].setdefault("metadata", {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), **ours}


_ROUTES: list[tuple[re.Pattern[str], dict[str, Callable[..., tuple[int, Any]]]]] = [
    (re.compile(r"/apis/batch/v1/namespaces/([^/]+)/jobs"),
     {"GET": FakeApiServer.list_jobs, "POST": FakeApiServer.create_job}),
    (re.compile(r"/apis/batch/v1/namespaces/([^/]+)/jobs/([^/]+)"),
     {"GET": FakeApiServer.get_job, "DELETE": FakeApiServer.http_delete_job}),
    (re.compile(r"/api/v1/namespaces/([^/]+)/pods"), {"GET": FakeApiServer.list_pods}),
    (re.compile(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)"),
     {"GET": FakeApiServer.get_pod, "DELETE": FakeApiServer.http_delete_pod}),
    (re.compile(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/log"), {"GET": FakeApiServer.pod_log}),
]  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    api: FakeApiServer

    def setup(self) -> None:
        super().setup()
        with self.api._lock:
            self.api._connections.add(self.connection)

    def finish(self) -> None:
        with self.api._lock:
            self.api._connections.discard(self.connection)
        with contextlib.suppress(OSError):  # the connection was cut by stop()
            super().finish()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        code, content_type, answer = self.api.handle(
            self.command, url.path, parse_qs(url.query), body, self.headers.get("Authorization")
        )
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read `requests` instead."""
