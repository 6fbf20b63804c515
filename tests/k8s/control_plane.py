"""The real test control plane (tests/infra/k8s.sh) as the tests see it: the Role-bound user's
kubeconfig that jobdeck uses, an admin client for what only a test may do (look behind jobdeck's
back, delete a Job, change the Role), a session of its own per test so parallel tests never see
each other's Jobs, and bounded waits."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from async_wait import read_until
from kubernetes.client import ApiClient, BatchV1Api, Configuration, CoreV1Api, RbacAuthorizationV1Api
from kubernetes.config.kube_config import load_kube_config

from backends.kubernetes.backend import KubernetesBackend
from backends.kubernetes.connection import Settings
from backends.kubernetes.naming import SESSION, label_value
from monitor.controller import Controller, ControllerSettings
from monitor.model import Job, JobSpec
from monitor.states import State
from store.session_store import SessionStore

NAMESPACE = "jobdeck"  # the namespace k8s.sh creates and binds the Role in
ROLE = "jobdeck"
TIMEOUT = (5, 30)  # (connect, read) seconds on every admin call


@dataclass(frozen=True)
class ControlPlane:
    state: Path

    @property
    def kubeconfig(self) -> Path:
        """The Role-bound user's: what jobdeck runs as in these tests."""
        return self.state / "kubeconfig"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.state / "admin.kubeconfig"

    @property
    def namespace(self) -> str:
        return NAMESPACE


def client(kubeconfig: Path) -> ApiClient:
    configuration = Configuration()
    load_kube_config(config_file=str(kubeconfig), client_configuration=configuration, persist_config=False)
    return ApiClient(configuration)


def unique_session(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def raw(request: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """An admin call with a timeout, its JSON answer parsed (the client's models left out)."""
    answer = request(*args, **kwargs, _request_timeout=TIMEOUT, _preload_content=False)
    try:
        return json.loads(answer.data or b"null")
    finally:
        answer.release_conn()


class Admin:
    """cluster-admin on the test control plane, for looking and acting behind jobdeck's back."""

    def __init__(self, plane: ControlPlane) -> None:
        self.api = client(plane.admin_kubeconfig)
        self.batch = BatchV1Api(self.api)
        self.core = CoreV1Api(self.api)
        self.rbac = RbacAuthorizationV1Api(self.api)
        self.namespace = plane.namespace

    def jobs(self, session: str) -> list[dict[str, Any]]:
        selector = f"{SESSION}={label_value(session)}"
        return raw(self.batch.list_namespaced_job, self.namespace, label_selector=selector)["items"]

    def pods(self, session: str) -> list[dict[str, Any]]:
        selector = f"{SESSION}={label_value(session)}"
        return raw(self.core.list_namespaced_pod, self.namespace, label_selector=selector)["items"]

    def job(self, name: str) -> dict[str, Any]:
        return raw(self.batch.read_namespaced_job, name, self.namespace)

    def create_job(self, body: dict[str, Any]) -> None:
        """A Job made behind jobdeck's back, as a user's `kubectl apply` makes it."""
        raw(self.batch.create_namespaced_job, self.namespace, body)

    def delete_job(self, name: str) -> None:
        raw(self.batch.delete_namespaced_job, name, self.namespace, propagation_policy="Background")

    def close(self) -> None:
        self.api.close()


def job_condition(job: dict[str, Any]) -> str | None:
    """Complete or Failed once the Job controller has settled the Job."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return str(condition["type"])
    return None


@dataclass
class RealEngine:
    """A session of its own in a real store, driven by a real controller whose Kubernetes backend
    talks to the real API server as the Role-bound user."""

    store: SessionStore
    session: str
    session_id: int
    controller: Controller
    backend: KubernetesBackend
    admin: Admin
    folder: Path

    async def add(self, definitions: Sequence[tuple[str, int | None, JobSpec]]) -> None:
        await self.store.add_jobs(self.session_id, definitions, time.time())

    async def jobs(self) -> dict[str, Job]:
        """By label: "name" or "name[task]"."""
        return {
            j.name if j.task is None else f"{j.name}[{j.task}]": j
            for j in await self.store.jobs(self.session)
        }

    async def submit_all(self) -> dict[str, str]:
        """Submit every PENDING job; the scheduler ID of each job by label."""
        outcomes = await self.controller.submit(await self.store.jobs(self.session, states=[State.PENDING]))
        assert all(o.ok for o in outcomes), [o.error for o in outcomes]
        return {label: job.job_id or "" for label, job in (await self.jobs()).items()}

    async def poll_until(
        self, what: str, done: Callable[[dict[str, Job]], bool], timeout: float = 60.0
    ) -> dict[str, Job]:
        """Poll until `done` holds for the jobs by label; fails naming `what` and the states seen."""

        async def polled() -> dict[str, Job]:
            await self.controller.poll()
            return await self.jobs()

        def seen(jobs: dict[str, Job]) -> dict[str, Any]:
            return {label: (j.state.value, j.reason, j.exit_code) for label, j in jobs.items()}

        return await read_until(polled, done, what, timeout, seen)


def real_backend(plane: ControlPlane, session: str, **options: Any) -> KubernetesBackend:
    return KubernetesBackend("k8s", session=session, settings=Settings(str(plane.kubeconfig)), timeout=10.0,
                             connect_timeout=3.0, **options)  # fmt: skip


@pytest.fixture
def plane(k8s_state: Path) -> ControlPlane:
    return ControlPlane(k8s_state)


@pytest.fixture
def admin(plane: ControlPlane) -> Iterator[Admin]:
    found = Admin(plane)
    yield found
    found.close()


@pytest.fixture
def session(admin: Admin) -> Iterator[str]:
    """A session name of this test's own; the Jobs created under it are deleted when it ends."""
    name = unique_session()
    yield name
    for job in admin.jobs(name):
        admin.delete_job(job["metadata"]["name"])


@pytest.fixture
async def real_engine(tmp_path: Path, plane: ControlPlane, admin: Admin) -> AsyncIterator[RealEngine]:
    """A RealEngine; the Jobs it created are deleted when the test ends."""
    session = unique_session()
    store = await SessionStore.open(tmp_path / "jobdeck.db")
    session_id = await store.ensure_session(session, None, {}, time.time())
    backend = real_backend(plane, session)
    controller = Controller(
        store, session, {"k8s": backend}, ControllerSettings(validate_grace=0.0, lost_grace=60.0)
    )
    try:
        yield RealEngine(store, session, session_id, controller, backend, admin, tmp_path)
    finally:
        await backend.close()
        await store.close()
        for job in admin.jobs(session):
            admin.delete_job(job["metadata"]["name"])
