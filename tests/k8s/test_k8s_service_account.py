"""jobdeck inside a pod, on the real control plane: a ServiceAccount bound to the documented Role, its
token made by the API server's TokenRequest and mounted where Kubernetes mounts it; and a token the
API server does not know, which changes nothing and says 401."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from control_plane import ROLE, Admin, ControlPlane, raw, unique_session

from backends.kubernetes.backend import KubernetesBackend
from backends.kubernetes.connection import ServiceAccount, Settings, in_cluster
from monitor.errors import BackendUnavailable, NotSent
from monitor.model import SubmitRequest, TaskSpec

pytestmark = pytest.mark.k8s


def request(session: str) -> SubmitRequest:
    extra = {"image": "busybox:1.36", "command": ["echo"], "backoff_limit": 0}
    return SubmitRequest(
        session, "hello", "jobdeck:0123456789ab", "", "/", (TaskSpec(None, ("hi",)),), False, extra=extra
    )


@pytest.fixture
def mounted(tmp_path: Path, plane: ControlPlane, admin: Admin) -> Iterator[ServiceAccount]:
    """A ServiceAccount bound to the Role, its token, CA and namespace where a pod finds them."""
    name = unique_session("sa")
    raw(admin.core.create_namespaced_service_account, plane.namespace, {"metadata": {"name": name}})
    binding = {"metadata": {"name": name}, "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": plane.namespace}],
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE}}  # fmt: skip
    raw(admin.rbac.create_namespaced_role_binding, plane.namespace, binding)
    token = raw(admin.core.create_namespaced_service_account_token, name, plane.namespace,
                {"spec": {"expirationSeconds": 600}})["status"]["token"]  # fmt: skip
    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    (folder / "token").write_text(token)
    (folder / "ca.crt").write_bytes((plane.state / "pki" / "ca.crt").read_bytes())
    (folder / "namespace").write_text(plane.namespace)
    yield ServiceAccount(folder)
    raw(admin.rbac.delete_namespaced_role_binding, name, plane.namespace)
    raw(admin.core.delete_namespaced_service_account, name, plane.namespace)


def service_environ(plane: ControlPlane) -> dict[str, str]:
    server = urlsplit(yaml.safe_load(plane.kubeconfig.read_text())["clusters"][0]["cluster"]["server"])
    return {"KUBERNETES_SERVICE_HOST": server.hostname or "", "KUBERNETES_SERVICE_PORT": str(server.port)}


async def test_in_a_pod_the_service_account_is_used(
    plane: ControlPlane, admin: Admin, session: str, mounted: ServiceAccount
) -> None:
    environ = service_environ(plane)
    assert in_cluster(environ, mounted) and not in_cluster({}, mounted)
    assert not in_cluster(environ, ServiceAccount(mounted.folder / "absent"))
    backend = KubernetesBackend("pod", session=session, service_account=mounted, environ=environ)
    try:
        job_id = (await backend.submit(request(session))).job_id
        deadline = time.monotonic() + 60
        while (observed := (await backend.poll([job_id], None)).observations[job_id]).raw_state != "Complete":
            assert time.monotonic() < deadline, f"not complete within 60 s: {observed}"
            await asyncio.sleep(0.3)
    finally:
        await backend.close()
    assert [j["metadata"]["name"] for j in admin.jobs(session)] == [job_id]


async def test_a_token_the_api_server_does_not_know_changes_nothing(
    tmp_path: Path, plane: ControlPlane, admin: Admin, session: str
) -> None:
    config = yaml.safe_load(plane.kubeconfig.read_text())
    config["users"][0]["user"]["token"] = "not-a-token"
    (tmp_path / "kc").write_text(yaml.safe_dump(config))
    backend = KubernetesBackend("lab", session=session, settings=Settings(str(tmp_path / "kc")))
    try:
        with pytest.raises(BackendUnavailable, match="401 Unauthorized"):
            await backend.poll(["hello-0123456789ab"], None)
        with pytest.raises(NotSent, match="401"):
            await backend.submit(request(session))
    finally:
        await backend.close()
    assert not admin.jobs(session)
