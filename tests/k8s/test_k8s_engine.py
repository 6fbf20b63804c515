"""The engine (Controller, Supervisor, resume) over the Kubernetes backend and a real store, against
the real control plane as the Role-bound user: pods run as real processes on the test kubelet, so
exit codes, reasons, indexes, deletions and the Job controller's conditions are Kubernetes' own."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from control_plane import RealEngine, job_condition
from k8s_support import k8s_spec
from monitor_process import wait_for

from backends.kubernetes.naming import TASKS
from monitor.aggregate import aggregate_state
from monitor.controller import build_request
from monitor.errors import SchedulerRejected
from monitor.model import JobSpec, RestartPolicy
from monitor.resume import resume
from monitor.states import TERMINAL, State
from monitor.supervisor import Supervisor
from monitor.validation import DELETED_UNJUDGED

pytestmark = pytest.mark.k8s


def shell(folder: Path, script: str, *args: str, **options: Any) -> JobSpec:
    """A job whose pod runs `script` with sh in `folder`; the task's arguments are $1, $2, ..."""
    return k8s_spec(folder, *args, command=["sh", "-c", f"cd {folder} && {script}", "task"], **options)


def faulty(fault: str, after: float = 0.0) -> dict[str, Any]:
    """A job template whose pods the test kubelet fails with `fault` (tests/infra/kubelet_pods.py)."""
    annotations = {"jobdeck.test/fault": fault, "jobdeck.test/fault-after": str(after)}
    return {"job_template": {"spec": {"template": {"metadata": {"annotations": annotations}}}}}


def settled(jobs: dict[str, Any]) -> bool:
    return all(j.state in TERMINAL for j in jobs.values())


async def test_indexed_job_tasks_end_with_their_own_exit_codes(real_engine: RealEngine) -> None:
    folder = real_engine.folder
    script = 'echo "task $1"; echo "$1" > "out-$1"; exit $(( $1 == 1 ? 3 : 0 ))'
    await real_engine.add([("sweep", t, shell(folder, script, str(t), array="0-3", outputs=[f"out-{t}"]))
                           for t in range(4)])  # fmt: skip
    ids = await real_engine.submit_all()
    (name,) = {i.split("_")[0] for i in ids.values()}
    created = real_engine.admin.job(name)
    assert (created["spec"]["completionMode"], created["spec"]["completions"]) == ("Indexed", 4)
    jobs = await real_engine.poll_until("every task settled", settled)
    seen = {label: (j.state, j.reason, j.exit_code) for label, j in jobs.items()}
    assert seen == {
        "sweep[0]": (State.SUCCEEDED, None, 0), "sweep[1]": (State.FAILED, "Error", 3),
        "sweep[2]": (State.SUCCEEDED, None, 0), "sweep[3]": (State.SUCCEEDED, None, 0),
    }  # fmt: skip
    assert real_engine.admin.job(name)["status"]["failedIndexes"] == "1"
    pod = next(p for p in real_engine.admin.pods(real_engine.session)
               if p["metadata"]["labels"].get("batch.kubernetes.io/job-completion-index") == "3")  # fmt: skip
    assert jobs["sweep[3]"].current.log_path == f"k8s://jobdeck/{pod['metadata']['name']}/main"
    assert (await real_engine.backend.read_bytes(jobs["sweep[3]"].current.log_path, 0, 100))[0] == b"task 3\n"


async def test_backoff_limit_exceeded_fails_with_the_exit_code(real_engine: RealEngine) -> None:
    await real_engine.add([("crash", None, shell(real_engine.folder, "echo dying >&2; exit 1"))])
    await real_engine.submit_all()
    jobs = await real_engine.poll_until("the job failed", settled)
    assert (jobs["crash"].state, jobs["crash"].exit_code) == (State.FAILED, 1)
    assert jobs["crash"].reason in ("Error", "BackoffLimitExceeded")
    (job,) = real_engine.admin.jobs(real_engine.session)
    assert job_condition(job) == "Failed"


@pytest.mark.parametrize(
    ("fault", "state", "exit_code"),
    [
        ("OOMKilled", State.FAILED, 137),
        ("Evicted", State.FAILED, 137),
        ("ImagePullBackOff", State.QUEUED, None),
    ],
)
async def test_the_kubelets_reasons_show(
    real_engine: RealEngine, fault: str, state: State, exit_code: int | None
) -> None:
    await real_engine.add([("victim", None, shell(real_engine.folder, "sleep 30", **faulty(fault, 0.5)))])
    await real_engine.submit_all()
    jobs = await real_engine.poll_until(f"the reason {fault}", lambda js: js["victim"].reason == fault)
    assert (jobs["victim"].state, jobs["victim"].exit_code) == (state, exit_code)


async def test_jobs_deleted_while_nobody_watched_are_settled_by_their_outputs_and_never_restarted(
    real_engine: RealEngine,
) -> None:
    """TTL deletion while jobdeck is away: the TTL controller removes the finished Jobs; a later
    look finds them gone and judges them by their outputs."""
    folder = real_engine.folder
    real_engine.backend.ttl_after_finished = 1
    policy = RestartPolicy(on=("exit:1", "BackoffLimitExceeded"), max_attempts=3)
    await real_engine.add([
        ("with-outputs", None, shell(folder, "sleep 1; echo a,b > result.csv", outputs=["result.csv"], restart=policy)),
        ("no-outputs", None, shell(folder, "sleep 1", restart=policy)),
    ])  # fmt: skip
    ids = await real_engine.submit_all()
    supervisor = Supervisor(real_engine.controller, holder="monitor")
    await supervisor.cycle()
    # the monitor is away; the Jobs finish and the TTL controller deletes them
    wait_for(
        lambda: not real_engine.admin.jobs(real_engine.session), 60, "the TTL controller deleting both Jobs"
    )

    await Supervisor(real_engine.controller, holder="monitor").cycle()  # attached again
    jobs = await real_engine.jobs()
    assert (jobs["with-outputs"].state, jobs["with-outputs"].current.raw_state) == (
        State.SUCCEEDED,
        "DELETED",
    )
    assert (jobs["no-outputs"].state, jobs["no-outputs"].reason) == (State.LOST, DELETED_UNJUDGED)
    for _ in range(2):
        await supervisor.cycle()
    assert not real_engine.admin.jobs(real_engine.session)  # nothing restarted
    assert [len(j.attempts) for j in (await real_engine.jobs()).values()] == [1, 1]
    assert set(ids.values()) == {j.job_id for j in jobs.values()}


async def test_resume_submits_only_the_missing_indexes_with_their_own_arguments(
    real_engine: RealEngine,
) -> None:
    folder = real_engine.folder
    # the first run writes outputs only for 0 and 2; every index exits 0
    script = (
        'printf "%s\\n" "$@" > "args-$2"; if [ -e resumed ] || [ $(( $2 % 2 )) = 0 ]; then : > "out-$2"; fi'
    )
    await real_engine.add([("sweep", t, shell(folder, script, "--seed", f"{t}", "it's", array="0-3",
                                              outputs=[f"out-{t}"])) for t in range(4)])  # fmt: skip
    await real_engine.submit_all()
    jobs = await real_engine.poll_until("every task settled", settled)
    assert aggregate_state(j.state for j in jobs.values()) is State.PARTIAL

    (folder / "resumed").touch()
    [(plan, outcome)] = await resume(real_engine.controller, list(jobs.values()))
    assert outcome is not None and outcome.ok and plan.tasks and outcome.tasks == (1, 3)
    new = real_engine.admin.job(outcome.scheduler_id or "")
    assert (new["spec"]["completions"], new["metadata"]["annotations"][TASKS]) == (2, "1,3")
    jobs = await real_engine.poll_until("the resumed tasks settled", settled)
    assert {label: j.state for label, j in jobs.items()} == {f"sweep[{t}]": State.SUCCEEDED for t in range(4)}
    assert (folder / "args-3").read_text().splitlines() == ["--seed", "3", "it's"]
    assert jobs["sweep[3]"].job_id == f"{new['metadata']['name']}_3" and len(jobs["sweep[3]"].attempts) == 2
    assert len(jobs["sweep[0]"].attempts) == 1


async def test_restart_policy_creates_a_new_job_for_the_next_attempt(real_engine: RealEngine) -> None:
    policy = RestartPolicy(on=("OOMKilled",), max_attempts=2)
    await real_engine.add(
        [("train", None, shell(real_engine.folder, "sleep 30", restart=policy, **faulty("OOMKilled")))]
    )
    await real_engine.submit_all()
    supervisor = Supervisor(real_engine.controller, holder="m")

    async def restarted() -> bool:
        await supervisor.cycle()
        return len((await real_engine.jobs())["train"].attempts) == 2

    deadline = time.monotonic() + 60
    while not await restarted():
        assert time.monotonic() < deadline, "no second attempt within 60s"
    job = (await real_engine.jobs())["train"]
    first, second = (a.job_id for a in job.attempts)
    assert (job.attempts[0].state, job.attempts[0].reason) == (State.FAILED, "OOMKilled")
    assert first != second and real_engine.admin.job(second or "")["metadata"]["annotations"]


async def test_cancel_deletes_the_job_and_its_pods(real_engine: RealEngine) -> None:
    await real_engine.add(
        [("sweep", t, shell(real_engine.folder, "sleep 300", str(t), array="0-2")) for t in range(3)]
    )
    ids = await real_engine.submit_all()
    (name,) = {i.split("_")[0] for i in ids.values()}
    await real_engine.poll_until("all running", lambda js: {j.state for j in js.values()} == {State.RUNNING})
    jobs = list((await real_engine.jobs()).values())

    with pytest.raises(SchedulerRejected, match="cannot stop some indexes"):
        await real_engine.controller.cancel(jobs[1:2])
    assert real_engine.admin.job(name)

    lines = await real_engine.controller.cancel(jobs)
    assert len(lines) == 3 and all("cancelled" in line for line in lines)
    wait_for(lambda: not real_engine.admin.jobs(real_engine.session) and not real_engine.admin.pods(real_engine.session), 60, "the Job and its pods gone")  # fmt: skip
    assert {j.state for j in (await real_engine.jobs()).values()} == {State.CANCELLED}
    assert not (await real_engine.controller.poll()).updates


async def test_one_list_of_jobs_and_one_of_pods_per_poll(real_engine: RealEngine) -> None:
    await real_engine.add([(f"plain-{n}", None, shell(real_engine.folder, "sleep 30")) for n in range(2)])
    await real_engine.submit_all()
    outcome = await real_engine.controller.poll()
    assert outcome.health["k8s"].ok and outcome.health["k8s"].commands == ("list jobs", "list pods")


async def test_an_intent_left_open_is_settled_by_its_tag(real_engine: RealEngine) -> None:
    """Re-attach after a crash between the create and the recording of its answer."""
    await real_engine.add([("lost-answer", None, shell(real_engine.folder, "true"))])
    jobs = await real_engine.store.jobs(real_engine.session)
    request = build_request(jobs, "jobdeck:feedfacecafe")
    await real_engine.store.record_intent(real_engine.session_id, "lost-answer", "submit", request.tag, "k8s", jobs,
                                          real_engine.backend.describe_submit(request), time.time())  # fmt: skip
    await real_engine.backend.submit(request)  # reached the API server; the answer was never recorded
    outcome = await Supervisor(real_engine.controller, holder="m").cycle()
    assert [v.result.job_id if v.result else None for v in outcome.intents] == ["lost-answer-feedfacecafe"]
    job = (await real_engine.jobs())["lost-answer"]
    assert job.job_id == "lost-answer-feedfacecafe" and job.state in (
        State.QUEUED,
        State.RUNNING,
        State.SUCCEEDED,
    )
    (created,) = real_engine.admin.jobs(real_engine.session)
    assert created["metadata"]["labels"]["jobdeck.io/tag"].startswith("jobdeck-feedfacecafe-")
