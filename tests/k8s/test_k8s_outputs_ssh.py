"""Outputs of Kubernetes jobs checked where they live: over SSH on the cluster's `outputs_host` (the
loopback sshd stands for a login node that mounts the jobs' volume), the backend built as the app
builds it from a manifest."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from k8s_support import NAMESPACE, FakeApiServer

from backends.registry import load_manifest
from monitor.controller import Controller, ControllerSettings
from monitor.expand import expand_manifest
from monitor.states import State
from store.session_store import SessionStore

pytestmark = [pytest.mark.ssh, pytest.mark.cluster]  # the ssh_config fixture needs both

SSH_HOST = os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")


async def test_outputs_are_checked_over_ssh_on_the_outputs_host(
    tmp_path: Path,
    ssh_config: Path,
    apiserver: FakeApiServer,
    kubeconfig: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBDECK_SSH_CONFIG", str(ssh_config))
    (tmp_path / "m.toml").write_text(
        f'[session]\nname = "s"\nvalidate_grace = 0.0\n[clusters.k8s]\nbackend = "kubernetes"\n'
        f'kubeconfig = "{kubeconfig}"\noutputs_host = "{SSH_HOST}"\nworkdir = "{tmp_path}"\n'
        '[[jobs]]\nname = "sweep"\nimage = "busybox"\ncommand = ["true"]\narray = "0-1"\n'
        'outputs = ["out-{task}.txt"]\n'
    )
    manifest = load_manifest(tmp_path / "m.toml")
    backend = manifest.clusters["k8s"].open_backend(tmp_path / "state", "s")
    assert backend.files.runner.description.startswith("ssh ")  # type: ignore[attr-defined]
    store = await SessionStore.open(tmp_path / "db")
    try:
        session_id = await store.ensure_session("s", None, {}, time.time())
        await store.add_jobs(
            session_id, [(d.name, d.task, d.spec) for d in expand_manifest(manifest)], time.time()
        )
        controller = Controller(store, "s", {"k8s": backend}, ControllerSettings(validate_grace=0.0))
        (outcome,) = await controller.submit(await store.jobs("s"))
        (tmp_path / "out-0.txt").write_text("written by task 0 on the shared volume\n")
        for task in (0, 1):
            apiserver.succeed(apiserver.pod(outcome.scheduler_id or "", task, NAMESPACE), NAMESPACE)
        await controller.poll()
        states = {j.task: j.state for j in await store.jobs("s")}
        assert states == {0: State.SUCCEEDED, 1: State.FAILED}
    finally:
        await backend.close()
        await store.close()
