"""The controller over the real local-process backend and a real store: intents, polls,
validation, cancel, refusals and an unreachable cluster."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from backends.local.backend import LocalBackend
from backends.runners.ssh import SshRunner
from backends.slurm.backend import SlurmBackend
from monitor.controller import Controller, ControllerSettings
from monitor.model import JobSpec, OutputCheck
from monitor.states import IN_SCHEDULER, State
from store.session_store import SessionStore

SCRIPT = """#!/bin/sh
# usage: run.sh CODE [OUTPUT] [SLEEP]
[ -n "$3" ] && sleep "$3"
[ -n "$2" ] && echo made > "$2"
echo "args: $*"
exit "$1"
"""


@pytest.fixture
async def env(tmp_path: Path):
    script = tmp_path / "run.sh"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    store = await SessionStore.open(tmp_path / "db.sqlite")
    sid = await store.ensure_session("s", None, {}, time.time())
    backend = LocalBackend("here", tmp_path / "local-jobs", max_parallel=8)
    controller = Controller(store, "s", {"here": backend}, ControllerSettings(validate_grace=0.5))
    yield store, sid, controller, tmp_path
    await store.close()


def spec(tmp_path: Path, *args: str, outputs: tuple[str, ...] = (), array: str | None = None) -> JobSpec:
    return JobSpec(
        "here",
        str(tmp_path / "run.sh"),
        str(tmp_path),
        args=args,
        array=array,
        outputs=tuple(OutputCheck(o) for o in outputs),
    )


async def settle(store: SessionStore, controller: Controller, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        await controller.poll()
        if not await store.jobs("s", states=[*IN_SCHEDULER, State.VALIDATING]):
            return
        await asyncio.sleep(0.2)
    raise AssertionError("jobs did not settle")


async def test_submit_poll_validate(env) -> None:
    store, sid, controller, tmp = env
    out = str(tmp / "out-ok")
    await store.add_jobs(
        sid,
        [
            ("ok", None, spec(tmp, "0", out, outputs=(out,))),
            ("fail", None, spec(tmp, "3")),
            ("partial", None, spec(tmp, "0", outputs=(str(tmp / "never"),))),
            *[
                ("arr", t, spec(tmp, "0", str(tmp / f"a{t}"), outputs=(str(tmp / f"a{t}"),), array="0-2"))
                for t in range(3)
            ],
        ],
        time.time(),
    )
    outcomes = await controller.submit(await store.jobs("s", states=[State.PENDING]))
    assert [o.job_name for o in outcomes] == ["ok", "fail", "partial", "arr"]  # one call per logical job
    assert outcomes[3].tasks == (0, 1, 2) and set(outcomes[3].task_ids) == {0, 1, 2}
    subs = await store.submissions()
    assert [s.status for s in subs] == ["submitted"] * 4
    await settle(store, controller)
    states = {(j.name, j.task): (j.state, j.exit_code) for j in await store.jobs("s")}
    assert states == {
        ("ok", None): (State.SUCCEEDED, 0),
        ("fail", None): (State.FAILED, 3),
        ("partial", None): (State.FAILED, 0),
        ("arr", 0): (State.SUCCEEDED, 0),
        ("arr", 1): (State.SUCCEEDED, 0),
        ("arr", 2): (State.SUCCEEDED, 0),
    }
    ok = (await store.jobs("s"))[0]
    assert Path(ok.current.log_path).read_text().strip() == f"args: 0 {out}"
    assert (ok.outputs_verified, ok.outputs_expected) == (1, 1)


async def test_rejected_submission_leaves_the_job_pending(env) -> None:
    store, sid, controller, tmp = env
    bad = JobSpec("here", str(tmp / "missing.sh"), str(tmp))
    await store.add_jobs(sid, [("bad", None, bad)], time.time())
    (outcome,) = await controller.submit(await store.jobs("s"))
    assert not outcome.ok and "missing.sh" in (outcome.error or "")
    (job,) = await store.jobs("s")
    assert job.state is State.PENDING and not job.attempts


async def test_cancel_running_and_pending(env) -> None:
    store, sid, controller, tmp = env
    await store.add_jobs(
        sid, [("sleeper", None, spec(tmp, "0", "", "60")), ("never", None, spec(tmp, "0"))], 1.0
    )
    sleeper, _ = await store.jobs("s")
    await controller.submit([sleeper])
    lines = await controller.cancel(await store.jobs("s"))
    assert any("cancel sent" in line for line in lines) and any("never submitted" in line for line in lines)
    await settle(store, controller)
    assert [j.state for j in await store.jobs("s")] == [State.CANCELLED, State.CANCELLED]


async def test_unreachable_cluster_changes_nothing(env, tmp_path: Path) -> None:
    store, sid, _, tmp = env
    await store.add_jobs(sid, [("a", None, spec(tmp, "0"))], 1.0)
    (job,) = await store.jobs("s")
    local = Controller(store, "s", {"here": LocalBackend("here", tmp / "local-jobs")})
    await local.submit([job])
    before = await store.jobs("s")
    runner = SshRunner("127.0.0.1", port=1, user="nobody", connect_timeout=2, backoff_base=0.1)
    unreachable = Controller(store, "s", {"here": SlurmBackend("here", runner)})
    outcome = await unreachable.poll()
    assert not outcome.health["here"].ok and "127.0.0.1" in (outcome.health["here"].error or "")
    assert outcome.updates == []
    after = await store.jobs("s")
    assert [(j.state, j.missing_since) for j in after] == [(j.state, j.missing_since) for j in before]
    await runner.close()


async def test_dry_run_submit_and_poll_store_nothing(env) -> None:
    store, sid, controller, tmp = env
    await store.add_jobs(sid, [("a", None, spec(tmp, "0", "x y"))], 1.0)
    (outcome,) = await controller.submit(await store.jobs("s"), dry_run=True)
    assert outcome.dry_run and "run.sh" in outcome.command and "'x y'" in outcome.command
    assert (await store.jobs("s"))[0].state is State.PENDING
    assert await store.submissions() == []
