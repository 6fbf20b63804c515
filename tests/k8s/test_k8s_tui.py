"""The full-screen app (Pilot, polling on) over one session with local processes and Kubernetes jobs
side by side: both clusters' rows follow what happens, and the status bar says when the API server
stops answering and when it is back."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from pathlib import Path

from k8s_support import NAMESPACE, FakeApiServer
from rich.console import Console
from textual.widgets import Static

from backends.registry import load_manifest
from monitor.expand import expand_manifest
from monitor.states import State
from store.session_store import SessionStore
from tui.app import JobdeckApp
from tui.screens.jobs_screen import JobsScreen
from tui.widgets.job_table import JobTable
from tui.wiring import close_controller, open_controller

MANIFEST = """\
[session]
name = "mixed"
poll_interval = 0.2
validate_grace = 0.0

[clusters.here]
backend = "local"

[clusters.k8s]
backend = "kubernetes"
kubeconfig = "{kubeconfig}"

[[jobs]]
name = "local-ok"
cluster = "here"
script = "job.sh"
args = ["0"]

[[jobs]]
name = "k8s-train"
cluster = "k8s"
image = "busybox:1.36"
command = ["python", "train.py"]

[[jobs]]
name = "k8s-sweep"
cluster = "k8s"
image = "busybox:1.36"
command = ["python", "sweep.py"]
args = ["{{task}}"]
array = "0-1"
"""


async def registered(folder: Path, kubeconfig: Path) -> tuple[Path, dict[str, str]]:
    """The session stored and submitted; its database and each Kubernetes job's Job name."""
    (folder / "job.sh").write_text('#!/bin/sh\necho "local job $*"\nexit "$1"\n')
    (folder / "job.sh").chmod(0o755)
    (folder / "mixed.toml").write_text(MANIFEST.format(kubeconfig=kubeconfig))
    manifest = load_manifest(folder / "mixed.toml")
    db = folder / "jobdeck.db"
    store = await SessionStore.open(db)
    try:
        session_id = await store.ensure_session("mixed", str(manifest.path), manifest.to_dict(), time.time())
        await store.add_jobs(
            session_id, [(d.name, d.task, d.spec) for d in expand_manifest(manifest)], time.time()
        )
        controller = await open_controller(store, "mixed")
        try:
            outcomes = await controller.submit(await store.jobs("mixed", states=[State.PENDING]))
        finally:
            await close_controller(controller)
    finally:
        await store.close()
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return db, {o.job_name: o.scheduler_id or "" for o in outcomes}


def rows(app: JobdeckApp) -> dict[str, list[str]]:
    """The table's painted rows by their first word (a group row's ▸ dropped)."""
    table = app.screen.query_one(JobTable)
    found = {}
    for y in range(1, table.size.height):
        words = table.render_line(y).text.split()
        if words:
            words = words[1:] if words[0] in ("▸", "▾") else words
            found[words[0]] = words
    return found


def status(app: JobdeckApp) -> str:
    console = Console(width=500, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(app.screen.query_one("#status", Static).content)
    return capture.get()


async def until(condition: Callable[[], object], what: str, app: JobdeckApp, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {rows(app)} / {status(app)}")
        await asyncio.sleep(0.05)


def state_of(app: JobdeckApp, name: str) -> str | None:
    return next((word for word in rows(app).get(name, []) if word in State.__members__), None)


async def test_local_and_kubernetes_jobs_side_by_side(
    tmp_path: Path, kubeconfig: Path, apiserver: FakeApiServer
) -> None:
    db, names = await registered(tmp_path, kubeconfig)
    train, sweep = names["k8s-train"], names["k8s-sweep"]
    app = JobdeckApp(db, "mixed", polling=True)
    async with app.run_test(size=(160, 40)):
        await until(lambda: isinstance(app.screen, JobsScreen) and state_of(app, "local-ok") == "SUCCEEDED",
                    "the local job to succeed", app)  # fmt: skip
        assert state_of(app, "k8s-train") == "QUEUED" and state_of(app, "k8s-sweep") == "QUEUED"
        assert rows(app)["k8s-train"][-1] == "k8s" and rows(app)["local-ok"][-1] == "here"
        assert train.startswith(rows(app)["k8s-train"][3].rstrip("…"))  # the JOB ID column: the Job's name

        apiserver.run(apiserver.pod(train, namespace=NAMESPACE), NAMESPACE)
        for task in (0, 1):
            apiserver.run(apiserver.pod(sweep, task, NAMESPACE), NAMESPACE)
        await until(lambda: state_of(app, "k8s-train") == "RUNNING" and state_of(app, "k8s-sweep") == "RUNNING",
                    "the pods to run", app)  # fmt: skip

        apiserver.stop()
        await until(lambda: "k8s unreachable" in status(app), "the status bar to say so", app)
        assert "here ok" in status(app) and state_of(app, "k8s-train") == "RUNNING"

        apiserver.start()
        apiserver.fail(
            apiserver.pod(train, namespace=NAMESPACE), exit_code=137, reason="OOMKilled", namespace=NAMESPACE
        )
        apiserver.succeed(apiserver.pod(sweep, 0, NAMESPACE), NAMESPACE)
        apiserver.fail(apiserver.pod(sweep, 1, NAMESPACE), exit_code=2, namespace=NAMESPACE)
        await until(lambda: state_of(app, "k8s-train") == "FAILED" and state_of(app, "k8s-sweep") == "PARTIAL",
                    "the Kubernetes jobs to end", app)  # fmt: skip
        assert "OOMKilled" in rows(app)["k8s-train"] and "k8s ok" in status(app)
