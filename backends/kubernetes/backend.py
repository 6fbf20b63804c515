"""The Kubernetes backend: Jobs created from the manifest, one list of Jobs and one of Pods per poll
(selected by the session's label), logs read from the API server, outputs checked where they live;
and every Job of the namespace, jobdeck's or not, for "My jobs" (the queue).

The official client is blocking: every call runs in this backend's own thread pool (never asyncio's
default executor, which the app's other workers share) with `_request_timeout` set, and is awaited
with a deadline of its own. An API server that does not answer raises BackendUnavailable, so no job
changes state because of it; one that answers is authoritative: a Job it no longer lists was deleted.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import yaml
from kubernetes.client import BatchV1Api, CoreV1Api
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import ConnectTimeoutError, HTTPError, MaxRetryError, SSLError

from backends.kubernetes.connection import Connection, ServiceAccount, Settings, connect
from backends.kubernetes.job_spec import build_job
from backends.kubernetes.log_follow import LOG_BYTES, LogCopies
from backends.kubernetes.naming import (
    JOB_NAME_LABEL,
    MANAGED_BY,
    SESSION,
    LogRef,
    label_value,
    parse_log_ref,
    task_id,
)
from backends.kubernetes.observe import SOURCE, Json, indexes, observe, tasks_of
from backends.kubernetes.queue_entries import queue_entries
from backends.kubernetes.states import map_kubernetes
from backends.runners.files import RemoteFiles
from backends.runners.local import LocalRunner
from monitor.errors import BackendUnavailable, InputError, NotSent, SchedulerRejected
from monitor.model import (
    Observation,
    PathStat,
    PollReport,
    ReadChunk,
    SubmitRequest,
    SubmitResult,
    read_range,
)
from monitor.queue import QueueReport
from monitor.state_map import DELETED

T = TypeVar("T")

GRACE = 5.0  # seconds a call may take beyond its request timeouts before it is given up on


class KubernetesBackend:
    """monitor.protocols.Backend for one namespace of one Kubernetes cluster."""

    kind = "kubernetes"
    map_state = staticmethod(map_kubernetes)
    requeuer = None
    adopter = None  # a Job created by kubectl cannot be adopted yet

    @property
    def queue_lister(self) -> KubernetesBackend:
        """Every Job of the namespace (those the cluster's label selector picks) can be listed."""
        return self

    @property
    def tail_reader(self) -> KubernetesBackend:
        """Pods and their logs are deleted (ttlSecondsAfterFinished, drains): copies are kept."""
        return self

    def __init__(
        self,
        cluster: str,
        *,
        session: str | None = None,
        settings: Settings | None = None,
        queue_selector: str | None = None,
        ttl_after_finished: int | None = None,
        files: RemoteFiles | None = None,
        service_account: ServiceAccount | None = None,
        environ: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        workers: int = 4,
    ) -> None:
        self.cluster = cluster
        self.session = session
        self.settings = settings or Settings()
        self.queue_selector = queue_selector
        self.ttl_after_finished = ttl_after_finished
        self.files = files or RemoteFiles(LocalRunner(), timeout)
        self.service_account = service_account or ServiceAccount()
        self.environ = os.environ if environ is None else environ
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._connection: Connection | None = None
        self._connecting = asyncio.Lock()
        self._copies = LogCopies(self._log_since)

    @property
    def selector(self) -> str:
        """The label selector of this session's Jobs and pods (every jobdeck Job without a session)."""
        return f"{SESSION}={label_value(self.session)}" if self.session else f"{MANAGED_BY}=jobdeck"

    # -- submit ----------------------------------------------------------------------------------

    def describe_submit(self, request: SubmitRequest) -> str:
        namespace = self._connection.namespace if self._connection else self.settings.namespace
        try:
            job = build_job(request, namespace or "<the context's namespace>", self.ttl_after_finished)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return yaml.dump(job, Dumper=_Dumper, sort_keys=False, width=1000).rstrip()

    async def submit(self, request: SubmitRequest) -> SubmitResult:
        try:
            connection = await self._connect()
        except BackendUnavailable as exc:
            raise NotSent(str(exc)) from exc
        try:
            body = build_job(request, connection.namespace, self.ttl_after_finished)
        except ValueError as exc:
            raise SchedulerRejected(str(exc)) from None
        name = body["metadata"]["name"]
        what = f"create Job {connection.namespace}/{name}"
        try:
            await self._call(what, lambda c: _body(BatchV1Api(c.api).create_namespaced_job(
                c.namespace, body, **self._options)))  # fmt: skip
        except ApiException as exc:
            if exc.status == 401:
                raise NotSent(self._refused(exc, what)) from None
            if exc.status != 409:  # 409: this very request arrived before (the name is unique to its tag)
                error = (
                    SchedulerRejected
                    if 400 <= (exc.status or 0) < 500 and exc.status != 429
                    else BackendUnavailable
                )
                raise error(self._refused(exc, what)) from None
        task_ids = {task.index: task_id(name, task.index) for task in request.tasks}
        return SubmitResult(name, task_ids, what)

    # -- poll, find, cancel ----------------------------------------------------------------------

    async def poll(self, job_ids: Sequence[str], since: float | None) -> PollReport:
        """One list of the session's Jobs and one of its pods. A Job the list does not show was
        deleted (the API server, unlike squeue, forgets nothing on its own): DELETED."""
        if not job_ids:
            return PollReport({})
        jobs, pods = await asyncio.gather(self._list_jobs(self.selector), self._list_pods(self.selector))
        found, listed = self._read("list jobs and pods", lambda: (observe(jobs, pods), _names(jobs)))
        observations = {}
        for wanted in job_ids:
            if wanted in found:
                observations[wanted] = found[wanted]
            elif wanted.split("_", 1)[0] not in listed:
                observations[wanted] = Observation(wanted, DELETED, source=SOURCE)
        return PollReport(observations, ("list jobs", "list pods"))

    async def find(self, names: Sequence[str], tags: Sequence[str], since: float) -> PollReport:
        """The session's Jobs created since `since` whose job name or tag annotation is asked for."""
        jobs, pods = await asyncio.gather(self._list_jobs(self.selector), self._list_pods(self.selector))
        wanted_names, wanted_tags = set(names), set(tags)
        found = {
            key: obs
            for key, obs in self._read("list jobs and pods", lambda: observe(jobs, pods)).items()
            if (obs.name in wanted_names or obs.tag in wanted_tags) and (obs.submit_time or since) >= since
        }
        return PollReport(found, ("list jobs", "list pods"))

    async def list_queue(self, history_since: float) -> QueueReport:
        """Every Job of the namespace that the cluster's selector picks, and every Job's pods (by the
        label the job controller puts on them: a selector on the Jobs' labels may not be on their
        pods'), in one list each; Jobs that ended before `history_since` are left out. A Job the
        answer does not describe readably is named in the report's notices."""
        jobs, pods = await asyncio.gather(
            self._list_jobs(self.queue_selector), self._list_pods(JOB_NAME_LABEL)
        )
        entries, problems = self._read(
            "list jobs and pods", lambda: queue_entries(self.cluster, jobs, pods, history_since)
        )
        notices = tuple(f"{self._where()}: {problem}" for problem in problems)
        return QueueReport(self.cluster, tuple(entries), ("list jobs", "list pods"), notices=notices)

    async def cancel(self, job_ids: Sequence[str]) -> list[str]:
        """Delete the Jobs (pods too: propagationPolicy Background). A Job that already ended is left
        for the poll to report; an Indexed Job is deleted only when every task it still runs is asked
        for (Kubernetes cannot stop one index). Returns the IDs now cancelled for good."""
        asked: dict[str, set[int | None]] = defaultdict(set)
        for job_id in job_ids:
            base, _, task = job_id.partition("_")
            asked[base].add(int(task) if task.isdigit() else None)
        if not asked:
            return []
        jobs = await self._list_jobs(self.selector)
        still = self._read(
            "list jobs", lambda: dict(zip(_names(jobs), map(_running_tasks, jobs), strict=True))
        )
        doomed = {}
        for name, tasks in asked.items():
            running = still.get(name, set())
            if running - tasks:
                shown = ", ".join(str(t) for t in sorted(running - tasks))
                raise SchedulerRejected(
                    f"{name}: tasks {shown} of this Indexed Job still run and Kubernetes cannot stop some "
                    "indexes alone; cancel the whole job"
                )
            if running:
                doomed[name] = running
        for name in doomed:
            await self._delete_job(name)
        return [task_id(name, task) for name, tasks in doomed.items() for task in sorted(tasks, key=_order)]

    async def _delete_job(self, name: str) -> None:
        what = f"delete Job {name}"
        try:
            await self._call(what, lambda c: _body(BatchV1Api(c.api).delete_namespaced_job(
                name, c.namespace, propagation_policy="Background", **self._options)))  # fmt: skip
        except ApiException as exc:
            if exc.status != 404:  # gone already
                raise BackendUnavailable(self._refused(exc, what)) from None

    async def _list_jobs(self, selector: str | None) -> list[Json]:
        """The Jobs `selector` picks; None: every Job of the namespace."""
        chosen = {"label_selector": selector} if selector else {}
        return await self._list("list jobs", lambda c: BatchV1Api(c.api).list_namespaced_job(
            c.namespace, **chosen, **self._options))  # fmt: skip

    async def _list_pods(self, selector: str) -> list[Json]:
        return await self._list("list pods", lambda c: CoreV1Api(c.api).list_namespaced_pod(
            c.namespace, label_selector=selector, **self._options))  # fmt: skip

    async def _list(self, what: str, request: Callable[[Connection], Any]) -> list[Json]:
        try:
            answer = await self._call(what, lambda c: json.loads(_body(request(c))))
        except ApiException as exc:
            raise BackendUnavailable(self._refused(exc, what)) from None
        except ValueError as exc:
            raise BackendUnavailable(f"{self._where()}: {what}: the answer is not JSON: {exc}") from None
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list | None) or not all(isinstance(item, dict) for item in items or []):
            raise BackendUnavailable(f"{self._where()}: {what}: the answer is not a list of objects")
        return items or []

    def _read(self, what: str, read: Callable[[], T]) -> T:
        """Read an answer of the API server's; one not shaped as the API server writes them (a proxy's
        page, a damaged body) is BackendUnavailable, so no job changes state because of it."""
        try:
            return read()
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
            raise BackendUnavailable(
                f"{self._where()}: {what}: an answer jobdeck cannot read ({detail})"
            ) from None

    # -- files and logs --------------------------------------------------------------------------

    async def stat_paths(self, paths: Sequence[str], checksum: bool = False) -> dict[str, PathStat | None]:
        """Outputs where they live (this machine, or the host of `outputs_host`); a `k8s://` log's
        size for the stalled-log warning."""
        logs = {path: ref for path in paths if (ref := _log_ref(path))}
        found = await self.files.stat_paths([p for p in paths if p not in logs], checksum)
        sizes = await asyncio.gather(*(self._log_size(ref) for ref in logs.values()))
        found.update(zip(logs, sizes, strict=True))
        return found

    async def read_bytes(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        ref = _log_ref(path)
        if ref is None:
            return await self.files.read_bytes(path, offset, limit)
        data, start = await self._copies.read(ref)
        offset = max(0, offset)
        if offset < start:
            raise OSError(_not_kept(ref, start))
        return data[offset - start : offset - start + max(0, limit)], start + len(data)

    async def read_many(self, requests: Sequence[tuple[str, int, int]]) -> dict[str, ReadChunk | None]:
        paths = [path for path, _, _ in requests]
        if len(set(paths)) != len(paths):
            raise ValueError("read_many: a path is asked for twice")
        logs = [(path, offset, limit, ref) for path, offset, limit in requests if (ref := _log_ref(path))]
        found = await self.files.read_many([r for r in requests if not _log_ref(r[0])])
        chunks = await asyncio.gather(
            *(self._log_chunk(ref, offset, limit) for _, offset, limit, ref in logs)
        )
        found.update(zip((path for path, *_ in logs), chunks, strict=True))
        return found

    async def read_tail(self, path: str, lines: int) -> bytes:
        """The last `lines` lines of a container's log, in one call (for the copy kept in the store)."""
        ref = _log_ref(path)
        if ref is None:
            raise FileNotFoundError(f"{path}: not a container log (no pod was seen for this attempt)")
        return await self._read_log(ref, {"limitBytes": str(LOG_BYTES), "tailLines": str(lines)})

    async def _log_size(self, ref: LogRef) -> PathStat | None:
        try:
            data, start = await self._copies.read(ref)
            return PathStat(start + len(data), time.time())
        except FileNotFoundError:
            return None

    async def _log_chunk(self, ref: LogRef, offset: int, limit: int) -> ReadChunk | None:
        try:
            data, start = await self._copies.read(ref)
        except FileNotFoundError:
            return None
        total = start + len(data)  # the log's size; its first `start` bytes are no longer kept
        tail = offset < 0
        offset, length = read_range(offset, limit, total)
        if tail:
            offset = max(offset, start)  # a tail is what is kept of it
        elif offset < start:
            return ReadChunk(b"", total, None, _not_kept(ref, start))
        return ReadChunk(data[offset - start : offset - start + length], total, None)

    async def _log_since(self, ref: LogRef, since: str | None) -> bytes:
        """For log_follow.LogCopies: the log with a timestamp on every line, from `since` on."""
        query = {"timestamps": "true", "limitBytes": str(LOG_BYTES)}
        if since is not None:
            query["sinceTime"] = since
        return await self._read_log(ref, query)

    async def _read_log(self, ref: LogRef, query: dict[str, str]) -> bytes:
        """GET pods/log, built by hand because the client has no `sinceTime`. FileNotFoundError when
        the pod is gone or its container has not started (the API answers 404 and 400)."""
        what = f"read log {ref}"
        query = {"container": ref.container, **query, **({"previous": "true"} if ref.previous else {})}

        def request(c: Connection) -> bytes:
            method, url, headers, body, post = c.api.param_serialize(
                "GET", "/api/v1/namespaces/{namespace}/pods/{name}/log",
                path_params={"namespace": ref.namespace, "name": ref.pod}, query_params=list(query.items()),
                header_params={"Accept": "*/*"}, auth_settings=["BearerToken"])  # fmt: skip
            answer = c.api.call_api(
                method, url, headers, body, post, _request_timeout=self._options["_request_timeout"]
            )
            data = answer.read()
            if not 200 <= answer.status <= 299:
                raise ApiException(http_resp=answer)
            return data

        try:
            return await self._call(what, request)
        except ApiException as exc:
            if exc.status in (400, 404):
                raise FileNotFoundError(f"{ref}: {_api_message(exc)}") from None
            raise BackendUnavailable(self._refused(exc, what)) from None

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.api.close()
            self._connection = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        await self.files.runner.close()

    # -- the client, in threads of our own -------------------------------------------------------

    @property
    def _options(self) -> dict[str, Any]:
        """On every call: a (connect, read) timeout, and the raw answer (parsed here, not into models)."""
        return {"_request_timeout": (self.connect_timeout, self.timeout), "_preload_content": False}

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self.workers, thread_name_prefix=f"jobdeck-k8s-{self.cluster}"
            )
        return self._executor

    async def _in_thread(self, what: str, function: Callable[[], T]) -> T:
        future = asyncio.get_running_loop().run_in_executor(self._pool(), function)
        deadline = 2 * (self.connect_timeout + self.timeout) + GRACE  # one retry: see connection.RETRIES
        try:
            return await asyncio.wait_for(future, deadline)
        except TimeoutError:
            raise BackendUnavailable(f"{self._where()}: {what}: no answer within {deadline:.0f} s") from None

    async def _connect(self) -> Connection:
        async with self._connecting:
            if self._connection is None:
                try:
                    self._connection = await self._in_thread(
                        "load the configuration",
                        lambda: connect(self.settings, self.service_account, self.environ),
                    )
                except (ConfigException, OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
                    raise BackendUnavailable(
                        f"kubernetes cluster {self.cluster}: cannot load its configuration: {exc}"
                    ) from None
        return self._connection

    async def _call(self, what: str, request: Callable[[Connection], T]) -> T:
        """`request` run in the pool. Transport failures become NotSent (nothing reached the server)
        or BackendUnavailable; the server's own refusals (ApiException) are the caller's to judge."""
        connection = await self._connect()
        try:
            return await self._in_thread(what, lambda: request(connection))
        except (HTTPError, OSError) as exc:
            error = NotSent if _never_sent(exc) else BackendUnavailable
            raise error(f"{self._where()}: {what} failed: {_detail(exc)}") from None

    def _where(self) -> str:
        described = f" ({self._connection.description})" if self._connection else ""
        return f"kubernetes cluster {self.cluster}{described}"

    def _refused(self, exc: ApiException, what: str) -> str:
        return f"{self._where()}: {what}: {exc.status} {exc.reason}: {_api_message(exc)}"


class _Dumper(yaml.SafeDumper):
    """YAML as kubectl users read it: a multi-line string (the index script) as a literal block."""


_Dumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar(
        "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None
    ),
)


def _body(response: Any) -> bytes:
    """The whole body of a raw answer, its connection given back to the pool."""
    try:
        return response.data
    finally:
        response.release_conn()


def _log_ref(path: str) -> LogRef | None:
    try:
        return parse_log_ref(path)
    except ValueError as exc:
        raise FileNotFoundError(str(exc)) from None


def _not_kept(ref: LogRef, start: int) -> str:
    return (
        f"{ref}: only the log from byte {start:,} on is kept (a longer log than jobdeck keeps); read its tail"
    )


def _names(jobs: Sequence[Json]) -> list[str]:
    """The listed Jobs' names; TypeError if one is not a name (a deleted Job is told by its absence)."""
    names = [job["metadata"]["name"] for job in jobs]
    if not all(isinstance(name, str) and name for name in names):
        raise TypeError("a Job without a name")
    return names


def _running_tasks(job: Json) -> set[int | None]:
    """The tasks a Job still runs: none once it ended; for an Indexed Job, those not done or failed."""
    conditions = (job.get("status") or {}).get("conditions") or []
    if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions):
        return set()
    tasks = tasks_of(job)
    if tasks is None:
        return {None}
    status = job.get("status") or {}
    settled = indexes(status.get("completedIndexes"), len(tasks)) | indexes(
        status.get("failedIndexes"), len(tasks)
    )
    return {task for position, task in enumerate(tasks) if position not in settled}


def _order(task: int | None) -> int:
    return -1 if task is None else task


def _api_message(exc: ApiException) -> str:
    """The `message` of the Status object the API server answered with, else the HTTP reason."""
    try:
        return str(json.loads(exc.body or "")["message"])
    except (ValueError, KeyError, TypeError):
        return str(exc.reason or "no message")


def _never_sent(exc: BaseException) -> bool:
    """True when the failure came before the request could reach the server (no connection)."""
    reason = exc.reason if isinstance(exc, MaxRetryError) else exc
    return isinstance(reason, ConnectTimeoutError | SSLError | ConnectionRefusedError)


def _detail(exc: BaseException) -> str:
    text = str(getattr(exc, "reason", None) or exc)
    errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if errno:
        return errno.group(1).strip()
    return "timed out" if "timed out" in text.lower() else text[:200]
