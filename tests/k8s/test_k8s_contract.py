"""The emulator (fake_apiserver.py) may not drift from Kubernetes: the requests jobdeck makes are
sent to it and to the real API server, and every field of the emulator's answers must be in the real
answer at the same place with the same JSON type (the real server says more; the emulator may not
say anything else), and errors must have the same code and reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from control_plane import Admin, ControlPlane, job_condition, unique_session
from fake_apiserver import FakeApiServer
from k8s_support import TOKEN
from monitor_process import wait_for

from backends.kubernetes.job_spec import build_job
from backends.kubernetes.naming import SESSION, label_value
from monitor.model import SubmitRequest, TaskSpec

pytestmark = pytest.mark.k8s


class Endpoint:
    """One API server reached over raw HTTP, as the client does: a base URL and a bearer token."""

    def __init__(self, base: str, token: str, ca: str | None) -> None:
        self.base, self.token = base, token
        self.http = urllib3.PoolManager(ca_certs=ca, cert_reqs="CERT_REQUIRED" if ca else "CERT_NONE",
                                        timeout=urllib3.Timeout(connect=5, read=30), retries=False)  # fmt: skip

    def send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        answer = self.http.request(method, self.base + path, body=data, headers=headers)
        text = answer.data.decode()
        try:
            return answer.status, json.loads(text)
        except ValueError:
            return answer.status, text


def shape(value: Any, path: str = "") -> set[tuple[str, str]]:
    """(path, JSON type) of every value inside; list items share the path `[]`."""
    kind = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    found = {(path, kind.get(type(value), "null"))}
    if isinstance(value, dict):
        for key, item in value.items():
            found |= shape(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            found |= shape(item, f"{path}[]")
    return found


@pytest.fixture
def endpoints(plane: ControlPlane, admin: Admin) -> Iterator[tuple[Endpoint, Endpoint, str, FakeApiServer]]:
    """(emulator, real API server, the session whose Job the test creates, the emulator itself)."""
    fake = FakeApiServer(token=TOKEN)
    fake.start()
    server = admin.api.configuration.host
    token = next(
        line.split("token: ")[1] for line in plane.kubeconfig.read_text().splitlines() if "token: " in line
    )
    session = unique_session("contract")
    yield (
        Endpoint(fake.url, TOKEN, None),
        Endpoint(server, token.strip(), str(plane.state / "pki" / "ca.crt")),
        session,
        fake,
    )
    fake.stop()
    for job in admin.jobs(session):
        admin.delete_job(job["metadata"]["name"])


def test_the_emulator_answers_as_the_api_server_does(
    endpoints: tuple[Endpoint, Endpoint, str, FakeApiServer], plane: ControlPlane, admin: Admin
) -> None:
    fake, real, session, emulator = endpoints
    namespace = plane.namespace
    request = SubmitRequest(session, "probe", "jobdeck:0123456789ab", "", "", (TaskSpec(None, ("x",)),), False,
                            extra={"image": "busybox:1.36", "command": ["true"]})  # fmt: skip
    job = build_job(request, namespace)
    name = job["metadata"]["name"]
    jobs = f"/apis/batch/v1/namespaces/{namespace}/jobs"
    pods = f"/api/v1/namespaces/{namespace}/pods"
    selector = f"?labelSelector={SESSION}%3D{label_value(session)}"
    bad = {**job, "metadata": {**job["metadata"], "name": "Not_A_Name"}}
    compare(
        fake,
        real,
        [
            ("create a Job", "POST", jobs, job),
            ("create it again", "POST", jobs, job),
            ("create an invalid Job", "POST", jobs, bad),
        ],
    )
    # both run the pod to its end: the real kubelet runs `true`, the emulator is told
    wait_for(lambda: job_condition(admin.job(name)) == "Complete", 60, "the real Job to complete")
    (pod,) = (p["metadata"]["name"] for p in emulator.pods_of(name, namespace))
    emulator.succeed(pod, namespace)
    compare(
        fake,
        real,
        [
            ("read the Job", "GET", f"{jobs}/{name}", None),
            ("list the session's Jobs", "GET", jobs + selector, None),
            ("list the session's pods", "GET", pods + selector, None),
            ("read a Job that is not there", "GET", f"{jobs}/no-such-job", None),
            (
                "read the log of a pod that is not there",
                "GET",
                f"{pods}/no-such-pod/log?container=main",
                None,
            ),
            ("delete the Job", "DELETE", f"{jobs}/{name}?propagationPolicy=Background", None),
            ("delete it again", "DELETE", f"{jobs}/{name}?propagationPolicy=Background", None),
        ],
    )


def compare(fake: Endpoint, real: Endpoint, calls: list[tuple[str, str, str, Any]]) -> None:
    for what, method, path, body in calls:
        (fake_code, fake_answer), (real_code, real_answer) = (
            fake.send(method, path, body),
            real.send(method, path, body),
        )
        assert fake_code == real_code, (
            f"{what}: the emulator answered {fake_code}, the API server {real_code}: {real_answer}"
        )
        if real_answer.get("kind") == "Status":
            words = ("kind", "status", "reason", "code")
            assert [fake_answer.get(w) for w in words] == [real_answer.get(w) for w in words], (
                what,
                fake_answer,
                real_answer,
            )
            continue
        extra = shape(fake_answer) - shape(real_answer)
        assert not extra, f"{what}: the emulator says what the API server does not: {sorted(extra)}"
