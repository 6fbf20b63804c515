"""Outputs of Kubernetes jobs checked where they live: over SSH on the cluster's `outputs_host` (the
loopback sshd stands for a login node that mounts the jobs' volume), the backend built as the app
builds it from a manifest, the jobs run by the real control plane."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from control_plane import ControlPlane

from backends.registry import load_manifest
from monitor.controller import Controller, ControllerSettings
from monitor.expand import expand_manifest
from monitor.states import State
from store.session_store import SessionStore

pytestmark = [
    pytest.mark.ssh,
    pytest.mark.cluster,
    pytest.mark.k8s,
]  # the ssh_config fixture needs the first two

SSH_HOST = os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")


async def test_outputs_are_checked_over_ssh_on_the_outputs_host(
    tmp_path: Path,
    ssh_config: Path,
    plane: ControlPlane,
    session: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBDECK_SSH_CONFIG", str(ssh_config))
    (tmp_path / "m.toml").write_text(
        f'[session]\nname = "{session}"\nvalidate_grace = 0.0\n[clusters.k8s]\nbackend = "kubernetes"\n'
        f'kubeconfig = "{plane.kubeconfig}"\noutputs_host = "{SSH_HOST}"\nworkdir = "{tmp_path}"\n'
        f'[[jobs]]\nname = "sweep"\nimage = "busybox"\narray = "0-1"\noutputs = ["out-{{task}}.txt"]\n'
        f'command = ["sh", "-c", "[ $1 = 1 ] || echo written by task $1 > {tmp_path}/out-$1.txt", "sh"]\n'
        'args = ["{task}"]\n'
    )
    manifest = load_manifest(tmp_path / "m.toml")
    backend = manifest.clusters["k8s"].open_backend(tmp_path / "state", session)
    assert backend.files.runner.description.startswith("ssh ")  # type: ignore[attr-defined]
    store = await SessionStore.open(tmp_path / "db")
    try:
        session_id = await store.ensure_session(session, None, {}, time.time())
        await store.add_jobs(
            session_id, [(d.name, d.task, d.spec) for d in expand_manifest(manifest)], time.time()
        )
        controller = Controller(store, session, {"k8s": backend}, ControllerSettings(validate_grace=0.0))
        (outcome,) = await controller.submit(await store.jobs(session))
        assert outcome.ok, outcome.error
        deadline = time.monotonic() + 60
        while {j.state for j in await store.jobs(session)} & {State.QUEUED, State.RUNNING, State.VALIDATING}:
            assert time.monotonic() < deadline, "the tasks did not settle within 60 s"
            await asyncio.sleep(0.5)
            await controller.poll()
        states = {j.task: j.state for j in await store.jobs(session)}
        assert states == {0: State.SUCCEEDED, 1: State.FAILED}
    finally:
        await backend.close()
        await store.close()
