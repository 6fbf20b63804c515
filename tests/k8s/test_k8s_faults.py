"""What only the emulator (tests/k8s/fake_apiserver.py) can be made to do to the Kubernetes backend:
an API server that stops answering, and one that hangs. Everything else runs against the real
control plane (test_k8s_engine.py)."""

from __future__ import annotations

import time

from k8s_support import CLUSTER, NAMESPACE, Engine, k8s_spec

from monitor.states import State


def pod_of(engine: Engine, job_id: str) -> str:
    name, _, task = job_id.partition("_")
    return engine.server.pod(name, int(task) if task else None, NAMESPACE)


async def submit_all(engine: Engine) -> dict[str, str]:
    """Submit every PENDING job; returns the scheduler ID of each job by label."""
    outcomes = await engine.controller.submit(await engine.store.jobs("s", states=[State.PENDING]))
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return {label: job.job_id or "" for label, job in (await engine.jobs()).items()}


async def test_an_api_server_that_stops_answering_changes_nothing(engine: Engine) -> None:
    await engine.add([("serve", None, k8s_spec(engine.folder))])
    ids = await submit_all(engine)
    engine.server.run(pod_of(engine, ids["serve"]), NAMESPACE)
    await engine.controller.poll()
    before = (await engine.jobs())["serve"]
    assert before.state is State.RUNNING

    engine.server.stop()
    outcome = await engine.controller.poll()
    health = outcome.health[CLUSTER]
    assert not outcome.updates and not health.ok and "Connection refused" in (health.error or "")
    assert health.last_ok is not None
    after = (await engine.jobs())["serve"]
    assert (after.state, after.updated_at, after.missing_since) == (State.RUNNING, before.updated_at, None)

    engine.server.start()
    engine.server.succeed(pod_of(engine, ids["serve"]), NAMESPACE)
    outcome = await engine.controller.poll()
    assert outcome.health[CLUSTER].ok
    assert (await engine.jobs())["serve"].state is State.SUCCEEDED


async def test_an_api_server_that_hangs_times_out(engine: Engine) -> None:
    await engine.add([("slow", None, k8s_spec(engine.folder))])
    ids = await submit_all(engine)
    engine.server.run(pod_of(engine, ids["slow"]), NAMESPACE)
    engine.backend.timeout = 0.5  # the read timeout of every call
    engine.server.stall = 3.0
    started = time.monotonic()
    outcome = await engine.controller.poll()
    assert time.monotonic() - started < 2.5
    assert not outcome.updates and "timed out" in (outcome.health[CLUSTER].error or "")
    assert (await engine.jobs())["slow"].state is State.QUEUED  # as submitted: nothing learned
