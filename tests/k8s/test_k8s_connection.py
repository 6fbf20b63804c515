"""Which API server, namespace and credentials the backend uses: a kubeconfig's contexts, the
in-cluster service account (detected from the environment and the mounted files), and what happens
when the configuration or the credentials are wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from k8s_support import TOKEN, FakeApiServer, write_kubeconfig

from backends.kubernetes.backend import KubernetesBackend
from backends.kubernetes.connection import ServiceAccount, Settings, in_cluster
from monitor.errors import BackendUnavailable, NotSent
from monitor.model import SubmitRequest, TaskSpec

JOBS = "/apis/batch/v1/namespaces/{}/jobs"


def request(name: str = "hello") -> SubmitRequest:
    extra = {"image": "busybox:1.36", "command": ["echo"]}
    return SubmitRequest(
        "s", name, "jobdeck:0123456789ab", "", "/w", (TaskSpec(None, ("hi",)),), False, extra=extra
    )


@pytest.fixture
def second() -> FakeApiServer:
    server = FakeApiServer(token=TOKEN)
    server.start()
    yield server
    server.stop()


async def submit_with(backend: KubernetesBackend) -> str:
    try:
        return (await backend.submit(request())).job_id
    finally:
        await backend.close()


async def test_the_context_named_in_the_manifest_is_used(
    tmp_path: Path, apiserver: FakeApiServer, second: FakeApiServer
) -> None:
    config = write_kubeconfig(tmp_path / "kc", {"a": (apiserver, "ns-a"), "b": (second, "ns-b")}, current="a")
    await submit_with(KubernetesBackend("k", settings=Settings(str(config), context="b")))
    assert (apiserver.count("POST", JOBS.format("ns-a")), second.count("POST", JOBS.format("ns-b"))) == (0, 1)

    await submit_with(KubernetesBackend("k", settings=Settings(str(config))))  # the current context
    assert (apiserver.count("POST", JOBS.format("ns-a")), second.count("POST", JOBS.format("ns-b"))) == (1, 1)

    await submit_with(KubernetesBackend("k", settings=Settings(str(config), context="b", namespace="other")))
    assert second.count("POST", JOBS.format("other")) == 1


async def test_a_context_the_kubeconfig_lacks_is_named_in_the_error(
    tmp_path: Path, apiserver: FakeApiServer
) -> None:
    config = write_kubeconfig(tmp_path / "kc", {"a": (apiserver, "ns")}, current="a")
    backend = KubernetesBackend("lab", settings=Settings(str(config), context="nope"))
    with pytest.raises(
        NotSent, match=r"lab: cannot load its configuration: .*no context named 'nope' \(contexts: a\)"
    ):
        await submit_with(backend)
    with pytest.raises(BackendUnavailable, match=r"no kube-config|Invalid kube-config"):
        await KubernetesBackend("lab", settings=Settings(str(tmp_path / "missing"))).poll(["x"], None)
    assert not apiserver.requests


async def test_wrong_credentials_change_nothing_and_say_unauthorized(
    tmp_path: Path, apiserver: FakeApiServer
) -> None:
    config = write_kubeconfig(tmp_path / "kc", {"a": (apiserver, "ns")}, current="a", token="wrong")
    backend = KubernetesBackend("lab", settings=Settings(str(config)))
    with pytest.raises(BackendUnavailable, match="401 Unauthorized"):
        await backend.poll(["hello-0123456789ab"], None)
    with pytest.raises(NotSent, match="401"):
        await submit_with(backend)
    assert not apiserver.jobs


def service_account(folder: Path, ca_cert: Path, namespace: str = "from-the-pod") -> ServiceAccount:
    folder.mkdir()
    (folder / "token").write_text(TOKEN)
    (folder / "ca.crt").write_bytes(ca_cert.read_bytes())
    (folder / "namespace").write_text(namespace)
    return ServiceAccount(folder)


async def test_in_cluster_service_account_is_detected_and_used(
    tmp_path: Path, tls_apiserver: tuple[FakeApiServer, Path]
) -> None:
    server, ca_cert = tls_apiserver
    account = service_account(tmp_path / "sa", ca_cert)
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(server.port)}
    assert in_cluster(environ, account) and not in_cluster({}, account)
    assert not in_cluster(environ, ServiceAccount(tmp_path / "absent"))

    backend = KubernetesBackend("pod", service_account=account, environ=environ)
    await submit_with(backend)
    assert server.count("POST", JOBS.format("from-the-pod")) == 1  # the token was accepted over HTTPS


async def test_a_kubeconfig_named_in_the_manifest_wins_over_the_service_account(
    tmp_path: Path, apiserver: FakeApiServer, tls_apiserver: tuple[FakeApiServer, Path]
) -> None:
    server, ca_cert = tls_apiserver
    account = service_account(tmp_path / "sa", ca_cert)
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(server.port)}
    config = write_kubeconfig(tmp_path / "kc", {"a": (apiserver, "ns")}, current="a")
    await submit_with(
        KubernetesBackend("k", settings=Settings(str(config)), service_account=account, environ=environ)
    )
    assert (apiserver.count("POST", JOBS.format("ns")), len(server.requests)) == (1, 0)


async def test_outside_a_pod_the_default_kubeconfig_is_read(tmp_path: Path, apiserver: FakeApiServer) -> None:
    config = write_kubeconfig(tmp_path / "kc", {"a": (apiserver, "ns")}, current="a")
    backend = KubernetesBackend(
        "k", environ={"KUBECONFIG": str(config)}, service_account=ServiceAccount(tmp_path)
    )
    await submit_with(backend)
    assert apiserver.count("POST", JOBS.format("ns")) == 1
