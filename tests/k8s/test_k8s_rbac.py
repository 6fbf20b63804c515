"""RBAC as README.md documents it: jobdeck needs every verb of its Role. With `delete` on Jobs taken
away, a cancel fails with one line that names the permission that is missing."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from control_plane import ROLE, Admin, ControlPlane, client, raw, unique_session
from kubernetes.client import AuthorizationV1Api
from monitor_process import jobdeck_command, wait_for
from test_k8s_cli import run

pytestmark = [pytest.mark.k8s, pytest.mark.disruptive]  # it changes the Role every other test runs under

MANIFEST = """\
[session]
name = "{session}"

[clusters.k8s]
backend = "kubernetes"
kubeconfig = "{kubeconfig}"

[[jobs]]
name = "serve"
image = "busybox:1.36"
command = ["sleep", "300"]
"""


def may(plane: ControlPlane, verb: str, resource: str, group: str) -> bool:
    """Whether the Role-bound user may, as the API server's authorizer answers now."""
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {
        "resourceAttributes": {"namespace": plane.namespace, "verb": verb, "resource": resource, "group": group}}}  # fmt: skip
    api = client(plane.kubeconfig)
    try:
        return bool(
            raw(AuthorizationV1Api(api).create_self_subject_access_review, review)["status"]["allowed"]
        )
    finally:
        api.close()


@pytest.fixture
def without_delete(plane: ControlPlane, admin: Admin) -> Iterator[None]:
    """The documented Role with `delete` taken off Jobs, put back afterwards."""
    role = raw(admin.rbac.read_namespaced_role, ROLE, plane.namespace)
    changed = copy.deepcopy(role)
    for rule in changed["rules"]:
        if "jobs" in rule["resources"]:
            rule["verbs"].remove("delete")
    raw(admin.rbac.replace_namespaced_role, ROLE, plane.namespace, changed)
    wait_for(lambda: not may(plane, "delete", "jobs", "batch"), 60, "the Role change to take effect")
    try:
        yield
    finally:
        current = raw(admin.rbac.read_namespaced_role, ROLE, plane.namespace)
        role["metadata"] = current["metadata"]
        raw(admin.rbac.replace_namespaced_role, ROLE, plane.namespace, role)
        wait_for(lambda: may(plane, "delete", "jobs", "batch"), 60, "the Role restored")


def test_the_documented_role_is_all_jobdeck_gets(plane: ControlPlane) -> None:
    assert may(plane, "create", "jobs", "batch") and may(plane, "get", "pods/log", "")
    assert not may(plane, "create", "pods", "") and not may(plane, "list", "secrets", "")


def test_a_missing_verb_is_one_line_naming_the_permission(
    tmp_path: Path, plane: ControlPlane, admin: Admin, without_delete: None
) -> None:
    session = unique_session("rbac")
    manifest = tmp_path / "k8s.toml"
    manifest.write_text(MANIFEST.format(session=session, kubeconfig=plane.kubeconfig))
    db = tmp_path / "jobdeck.db"
    try:
        submitted: list[dict[str, Any]] = json.loads(
            run(db, "submit", str(manifest), "--no-tui", "--json").stdout
        )
        assert submitted[0]["error"] is None
        result = subprocess.run([jobdeck_command(), "--db", str(db), "cancel", f"{session}/serve"], capture_output=True,
                                text=True, timeout=90, env={**os.environ, "NO_COLOR": "1"})  # fmt: skip
        assert result.returncode == 1, result
        errors = result.stderr.strip().splitlines()
        assert len(errors) == 1, result.stderr
        assert 'cannot delete resource "jobs" in API group "batch"' in errors[0], errors[0]
        assert admin.jobs(session), "the Job must still be there"
    finally:
        for job in admin.jobs(session):
            admin.delete_job(job["metadata"]["name"])
