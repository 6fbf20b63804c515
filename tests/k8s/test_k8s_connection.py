"""Which API server and namespace the backend uses when several could answer: a kubeconfig's
contexts, a kubeconfig against the in-cluster service account, the default kubeconfig; and a
configuration that names what is not there. The emulator counts which server was asked; the service
account and wrong credentials on the real API server are in test_k8s_service_account.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from k8s_support import TOKEN, FakeApiServer, write_kubeconfig

from backends.kubernetes.backend import KubernetesBackend
from backends.kubernetes.connection import ServiceAccount, Settings
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


def service_account(folder: Path, ca_cert: Path, namespace: str = "from-the-pod") -> ServiceAccount:
    folder.mkdir()
    (folder / "token").write_text(TOKEN)
    (folder / "ca.crt").write_bytes(ca_cert.read_bytes())
    (folder / "namespace").write_text(namespace)
    return ServiceAccount(folder)


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
