"""One pod on the test kubelet: each container's command runs as a local process (no image is
pulled), with the pod spec's environment, arguments and working directory, and its real exit code,
termination reason and output go back to the API server as a kubelet reports them.

An annotation stands in for what a process on this machine cannot be made to suffer:
`jobdeck.test/fault: OOMKilled | Evicted` kills the container `jobdeck.test/fault-after` seconds
after it starts (or reports it so when it exits first); `ImagePullBackOff` never starts it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubelet_logs import LogFile, rfc3339_nano

FAULT = "jobdeck.test/fault"
FAULT_AFTER = "jobdeck.test/fault-after"
FAULTS = ("OOMKilled", "Evicted", "ImagePullBackOff")
BACKOFF = (1.0, 2.0, 4.0, 8.0)  # seconds before restarting a container (restartPolicy OnFailure)
MAX_GRACE = 30.0

Json = dict[str, Any]
Report = Callable[["PodRunner"], None]


def seconds(at: float) -> str:
    return rfc3339_nano(at)[:19] + "Z"


def expand(text: str, values: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion of command, args and env values: a defined VAR is replaced,
    `$$` is a literal `$`, anything else stays as written."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            following = text[i + 1]
            if following == "$":
                out.append("$")
                i += 2
                continue
            if following == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2 : end]
                    out.append(values.get(name, f"$({name})"))
                    i = end + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


def field(pod: Json, path: str) -> str:
    """The value of an env var's fieldRef (the paths the downward API offers to env)."""
    meta, spec = pod["metadata"], pod["spec"]
    for prefix, source in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return (meta.get(source) or {}).get(path[len(prefix) + 2 : -2], "")
    known = {
        "metadata.name": meta["name"], "metadata.namespace": meta["namespace"], "metadata.uid": meta["uid"],
        "spec.nodeName": spec.get("nodeName", ""), "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": "127.0.0.1", "status.podIP": "127.0.0.1",
    }  # fmt: skip
    if path not in known:
        raise ValueError(f"fieldRef {path} is not supported by the test kubelet")
    return known[path]


class ContainerRun:
    """One container of the pod: its attempts, state and logs."""

    def __init__(self, spec: Json) -> None:
        self.spec = spec
        self.name: str = spec["name"]
        self.state: Json = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state: Json = {}
        self.restarts = 0
        self.logs: list[LogFile] = []
        self.process: subprocess.Popen[bytes] | None = None

    def status(self) -> Json:
        running = "running" in self.state
        return {
            "name": self.name, "image": self.spec.get("image", ""), "imageID": "",
            "containerID": f"jobdeck://{self.process.pid}" if self.process else "",
            "state": self.state, "lastState": self.last_state, "restartCount": self.restarts,
            "ready": running, "started": running,
        }  # fmt: skip


class PodRunner:
    """Runs a pod bound to this node until its containers end or it is deleted; `report` is called
    with the runner whenever the status it shows changes."""

    def __init__(self, pod: Json, work: Path, report: Report) -> None:
        self.pod = pod
        self.uid: str = pod["metadata"]["uid"]
        self.folder = work / pod["metadata"]["namespace"] / pod["metadata"]["name"]
        self.report = report
        self.started = time.time()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.containers = [ContainerRun(c) for c in pod["spec"]["containers"]]
        annotations = pod["metadata"].get("annotations") or {}
        self.fault = annotations.get(FAULT)
        self.fault_after = float(annotations.get(FAULT_AFTER, "0"))
        self.evicted = False
        self.threads = [threading.Thread(target=self._run, args=(c,), daemon=True) for c in self.containers]

    def start(self) -> None:
        if self.fault is not None and self.fault not in FAULTS:
            print(f"pod {self.uid}: unknown {FAULT} {self.fault!r}, running it as written", file=sys.stderr)
        self.report(self)
        for thread in self.threads:
            thread.start()

    @property
    def finished(self) -> bool:
        return all(not t.is_alive() for t in self.threads)

    def stop(self, grace: float) -> None:
        """Deletion: SIGTERM to every container's process group, SIGKILL after the grace period."""
        self.stopping.set()
        self._signal(signal.SIGTERM)
        deadline = time.time() + min(grace, MAX_GRACE)
        while time.time() < deadline and not self.finished:
            time.sleep(0.1)
        self._signal(signal.SIGKILL)
        for thread in self.threads:
            thread.join(10)

    def log(self, container: str, previous: bool) -> LogFile | str:
        """The log of the container's current attempt, or of the one before it."""
        run = next((c for c in self.containers if c.name == container), None)
        if run is None:
            return f'container "{container}" in pod "{self.pod["metadata"]["name"]}" is not valid'
        wanted = len(run.logs) - (2 if previous else 1)
        if wanted < 0:
            what = "previous terminated container" if previous else "container"
            return f'{what} "{container}" in pod "{self.pod["metadata"]["name"]}" not found'
        return run.logs[wanted]

    def status(self) -> Json:
        """The pod's status as the kubelet writes it."""
        with self.lock:
            states = [c.state for c in self.containers]
            statuses = [c.status() for c in self.containers]
        ended = all("terminated" in s for s in states)
        running = all("running" in s for s in states)
        if self.evicted:
            phase = "Failed"
        elif ended:
            phase = "Succeeded" if all(s["terminated"]["exitCode"] == 0 for s in states) else "Failed"
        elif any("running" in s or "terminated" in s for s in states):
            phase = "Running"
        else:
            phase = "Pending"
        now = seconds(time.time())
        ready = "True" if running else "False"
        conditions = [
            {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": ready, "lastTransitionTime": now},
            {"type": "ContainersReady", "status": ready, "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
        ]
        status: Json = {
            "phase": phase, "conditions": conditions, "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}], "startTime": seconds(self.started),
            "containerStatuses": statuses,
        }  # fmt: skip
        if self.evicted:
            status.update(reason="Evicted", message="The node was low on resource: memory. ")
            conditions.append({"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                               "message": "The node was low on resource: memory. ", "lastTransitionTime": now})  # fmt: skip
        return status

    # -- one container -----------------------------------------------------------------------------

    def _set(self, run: ContainerRun, **changes: Any) -> None:
        with self.lock:
            for key, value in changes.items():
                setattr(run, key, value)
        self.report(self)

    def _run(self, run: ContainerRun) -> None:
        if self.fault == "ImagePullBackOff":
            message = f'Back-off pulling image "{run.spec.get("image", "")}"'
            self._set(run, state={"waiting": {"reason": "ImagePullBackOff", "message": message}})
            return
        policy = self.pod["spec"].get("restartPolicy", "Always")
        while not self.stopping.is_set():
            terminated = self._attempt(run)
            restart = policy == "Always" or (policy == "OnFailure" and terminated["exitCode"] != 0)
            if self.stopping.is_set() or self.evicted or not restart:
                self._set(run, state={"terminated": terminated})
                return
            pause = BACKOFF[min(run.restarts, len(BACKOFF) - 1)]
            message = f"back-off {pause:.0f}s restarting failed container={run.name}"
            self._set(run, state={"waiting": {"reason": "CrashLoopBackOff", "message": message}},
                      last_state={"terminated": terminated}, restarts=run.restarts + 1)  # fmt: skip
            self.stopping.wait(pause)

    def _attempt(self, run: ContainerRun) -> Json:
        """Run the container's command once; its `terminated` state."""
        log = LogFile(self.folder / f"{run.name}-{len(run.logs)}.log")
        with self.lock:
            run.logs.append(log)
        try:
            argv, env, cwd = self._command(run.spec)
        except ValueError as exc:
            log.done.set()
            return self._ended(time.time(), 1, "CreateContainerConfigError", str(exc))
        begun = time.time()
        try:
            process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
        except OSError as exc:
            log.done.set()
            return self._ended(begun, 128, "StartError", f"failed to start {argv[0]!r}: {exc}")
        self._set(run, process=process, state={"running": {"startedAt": seconds(begun)}})
        readers = [
            threading.Thread(target=_drain, args=(pipe, name, log), daemon=True)
            for pipe, name in ((process.stdout, "stdout"), (process.stderr, "stderr"))
        ]
        for reader in readers:
            reader.start()
        reason = None
        if self.fault in ("OOMKilled", "Evicted"):
            try:
                process.wait(max(0.0, begun + self.fault_after - time.time()))
            except subprocess.TimeoutExpired:
                _kill(process, signal.SIGKILL)
            reason = self.fault
        code = process.wait()
        for reader in readers:
            reader.join()
        log.done.set()
        if reason == "OOMKilled":
            return self._ended(begun, 137, "OOMKilled")
        if reason == "Evicted":
            self.evicted = True
            return self._ended(begun, 137, "Error")
        code = 128 - code if code < 0 else code  # killed by a signal: 128 + its number, as runtimes say
        return self._ended(begun, code, "Completed" if code == 0 else "Error")

    def _ended(self, begun: float, code: int, reason: str, message: str | None = None) -> Json:
        state = {
            "exitCode": code,
            "reason": reason,
            "startedAt": seconds(begun),
            "finishedAt": seconds(time.time()),
        }
        if message:
            state["message"] = message
        return state

    def _command(self, spec: Json) -> tuple[list[str], dict[str, str], str]:
        """argv, environment and working directory as the container spec says; ValueError for
        what the test kubelet cannot provide (secrets, config maps, resource fields)."""
        values: dict[str, str] = {}
        for var in spec.get("env") or []:
            source = var.get("valueFrom")
            if source is None:
                values[var["name"]] = expand(var.get("value", ""), values)
            elif "fieldRef" in source:
                values[var["name"]] = field(self.pod, source["fieldRef"]["fieldPath"])
            else:
                raise ValueError(
                    f"env {var['name']}: {', '.join(source)} is not supported by the test kubelet"
                )
        if spec.get("envFrom"):
            raise ValueError("envFrom is not supported by the test kubelet")
        words = [expand(w, values) for w in (spec.get("command") or []) + (spec.get("args") or [])]
        if not words:
            raise ValueError("no command: the test kubelet has no image entrypoint to fall back on")
        base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
        env = {**base, "HOSTNAME": self.pod["metadata"]["name"], **values}
        cwd = spec.get("workingDir") or "/"
        Path(cwd).mkdir(parents=True, exist_ok=True)  # as a runtime creates a missing working directory
        return words, env, cwd

    def _signal(self, number: signal.Signals) -> None:
        with self.lock:
            processes = [c.process for c in self.containers if c.process is not None]
        for process in processes:
            if process.poll() is None:
                _kill(process, number)


def _kill(process: subprocess.Popen[bytes], number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # exited meanwhile
        os.killpg(process.pid, number)


def _drain(pipe: Any, stream: str, log: LogFile) -> None:
    for line in iter(pipe.readline, b""):
        log.append(stream, line)
    pipe.close()
