"""The loopback API server answers as kube-apiserver does, checked through the official client:
Status objects for errors, label selectors, deletion's propagation policies, pod log options and
the job controller's bookkeeping. (If it drifted from the real API, the other tests would prove
little.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from k8s_support import TOKEN, FakeApiServer
from kubernetes import client
from kubernetes.client.exceptions import ApiException

NS = "default"


@pytest.fixture
def api(apiserver: FakeApiServer) -> Iterator[tuple[client.BatchV1Api, client.CoreV1Api]]:
    configuration = client.Configuration()
    configuration.host = apiserver.url
    configuration.api_key = {"authorization": f"Bearer {TOKEN}"}
    api_client = client.ApiClient(configuration)
    yield client.BatchV1Api(api_client), client.CoreV1Api(api_client)
    api_client.close()


def job(name: str, **spec: Any) -> dict[str, Any]:
    pod = {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}}
    return {"metadata": {"name": name, "labels": {"app": name}}, "spec": {"template": pod, **spec}}


def status_of(call: Any) -> dict[str, Any]:
    with pytest.raises(ApiException) as caught:
        call()
    body = json.loads(caught.value.body)
    assert (body["kind"], body["apiVersion"], body["status"], body["code"]) == (
        "Status",
        "v1",
        "Failure",
        caught.value.status,
    )
    return body


def test_errors_are_status_objects(api, apiserver: FakeApiServer) -> None:
    batch, core = api
    assert status_of(lambda: batch.read_namespaced_job("nope", NS))["reason"] == "NotFound"
    batch.create_namespaced_job(NS, job("a"))
    conflict = status_of(lambda: batch.create_namespaced_job(NS, job("a")))
    assert (conflict["reason"], conflict["details"]["name"]) == ("AlreadyExists", "a")
    invalid = status_of(lambda: batch.create_namespaced_job(NS, job("Not_A_Name", completionMode="Indexed")))
    fields = {cause["field"] for cause in invalid["details"]["causes"]}
    assert invalid["reason"] == "Invalid" and fields == {"metadata.name", "spec.completions"}
    bad_label = job("b")
    bad_label["metadata"]["labels"] = {"app": "x" * 64}
    assert {
        c["field"] for c in status_of(lambda: batch.create_namespaced_job(NS, bad_label))["details"]["causes"]
    } == {"metadata.labels"}
    apiserver.token = "other"
    assert status_of(lambda: core.list_namespaced_pod(NS))["reason"] == "Unauthorized"


def test_label_selectors(api) -> None:
    batch, _ = api
    for name in ("a", "b", "c"):
        batch.create_namespaced_job(NS, job(name))

    def names(selector: str) -> list[str]:
        return [j.metadata.name for j in batch.list_namespaced_job(NS, label_selector=selector).items]

    assert names("app=a") == ["a"] and names("app!=a") == ["b", "c"]
    assert names("app in (a, c)") == ["a", "c"] and names("app notin (a,c),app") == ["b"]
    assert names("!app") == [] and names("") == ["a", "b", "c"]


def test_deleting_a_job_orphans_its_pods_unless_told_otherwise(api, apiserver: FakeApiServer) -> None:
    batch, core = api
    batch.create_namespaced_job(NS, job("kept", completionMode="Indexed", completions=2, parallelism=2))
    batch.create_namespaced_job(NS, job("gone"))
    batch.delete_namespaced_job("kept", NS)
    batch.delete_namespaced_job("gone", NS, propagation_policy="Background")
    pods = core.list_namespaced_pod(NS).items
    assert sorted(p.metadata.labels["batch.kubernetes.io/job-completion-index"] for p in pods) == ["0", "1"]
    assert all(not p.metadata.owner_references for p in pods)
    orphan = pods[0].metadata.name
    assert core.read_namespaced_pod(orphan, NS).status.phase == "Pending"
    core.delete_namespaced_pod(orphan, NS)
    assert status_of(lambda: core.read_namespaced_pod(orphan, NS))["details"]["kind"] == "pods"


def test_pod_logs_and_the_job_controller(api, apiserver: FakeApiServer) -> None:
    batch, core = api
    batch.create_namespaced_job(NS, job("j", backoffLimit=1))
    first = apiserver.pod("j", namespace=NS)
    assert "waiting to start" in status_of(lambda: core.read_namespaced_pod_log(first, NS))["message"]
    apiserver.run(first, NS)
    apiserver.set_log(first, "one\ntwo\nthree\n", namespace=NS)
    assert core.read_namespaced_pod_log(first, NS, tail_lines=2) == "two\nthree\n"
    assert core.read_namespaced_pod_log(first, NS, limit_bytes=5, follow=True) == "one\nt"
    assert (
        "previous terminated"
        in status_of(lambda: core.read_namespaced_pod_log(first, NS, previous=True))["message"]
    )

    apiserver.fail(first, exit_code=2, namespace=NS)  # within the backoff limit: a new pod
    second = apiserver.pod("j", namespace=NS)
    assert second != first and batch.read_namespaced_job("j", NS).status.failed == 1
    apiserver.fail(second, exit_code=2, namespace=NS)
    status = batch.read_namespaced_job("j", NS).status
    assert (status.failed, status.conditions[-1].type, status.conditions[-1].reason) == (
        2,
        "Failed",
        "BackoffLimitExceeded",
    )
