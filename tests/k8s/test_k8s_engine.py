"""The engine (Controller, Supervisor, resume) over the Kubernetes backend and a real store, against
the loopback API server: per-task states of an Indexed Job, reasons and exit codes, deletion behind
the monitor's back, an API server that stops answering, resume, restart, cancel, and how many
requests a poll makes."""

from __future__ import annotations

import subprocess
import time

import pytest
from k8s_support import CLUSTER, NAMESPACE, Engine, k8s_spec

from backends.kubernetes.naming import TASKS
from monitor.aggregate import aggregate_state
from monitor.controller import build_request
from monitor.errors import SchedulerRejected
from monitor.model import RestartPolicy
from monitor.resume import resume
from monitor.states import State
from monitor.supervisor import Supervisor
from monitor.validation import DELETED_UNJUDGED

JOBS = f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"


def pod_of(engine: Engine, job_id: str) -> str:
    name, _, task = job_id.partition("_")
    return engine.server.pod(name, int(task) if task else None, NAMESPACE)


async def submit_all(engine: Engine) -> dict[str, str]:
    """Submit every PENDING job; returns the scheduler ID of each job by label."""
    outcomes = await engine.controller.submit(await engine.store.jobs("s", states=[State.PENDING]))
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return {label: job.job_id or "" for label, job in (await engine.jobs()).items()}


async def test_indexed_job_of_five_with_two_failed_indexes(engine: Engine) -> None:
    folder = engine.folder
    await engine.add([("sweep", t, k8s_spec(folder, "--part", str(t), array="0-4", outputs=[f"out-{t}"]))
                      for t in range(5)])  # fmt: skip
    ids = await submit_all(engine)
    (job_name,) = {i.split("_")[0] for i in ids.values()}
    assert engine.server.count("POST", JOBS) == 1  # one Indexed Job for the whole array
    created = engine.server.job(job_name, NAMESPACE)
    assert (created["spec"]["completionMode"], created["spec"]["completions"]) == ("Indexed", 5)
    for task in range(5):
        engine.server.run(pod_of(engine, ids[f"sweep[{task}]"]), NAMESPACE)
    await engine.controller.poll()
    assert {j.state for j in (await engine.jobs()).values()} == {State.RUNNING}

    for task in (0, 2, 4):
        (folder / f"out-{task}").write_text("done\n")
        engine.server.succeed(pod_of(engine, ids[f"sweep[{task}]"]), NAMESPACE)
    engine.server.fail(pod_of(engine, ids["sweep[1]"]), exit_code=3, namespace=NAMESPACE)
    engine.server.fail(
        pod_of(engine, ids["sweep[3]"]), exit_code=137, reason="OOMKilled", namespace=NAMESPACE
    )
    assert engine.server.job(job_name, NAMESPACE)["status"]["failedIndexes"] == "1,3"
    await engine.controller.poll()

    jobs = await engine.jobs()
    seen = {label: (j.state, j.reason, j.exit_code) for label, j in jobs.items()}
    assert seen == {
        "sweep[0]": (State.SUCCEEDED, None, 0),
        "sweep[1]": (State.FAILED, "Error", 3),
        "sweep[2]": (State.SUCCEEDED, None, 0),
        "sweep[3]": (State.FAILED, "OOMKilled", 137),
        "sweep[4]": (State.SUCCEEDED, None, 0),
    }
    assert aggregate_state(j.state for j in jobs.values()) is State.PARTIAL
    assert jobs["sweep[3]"].job_id == f"{job_name}_3"
    assert jobs["sweep[3]"].current.log_path == f"k8s://{NAMESPACE}/{pod_of(engine, ids['sweep[3]'])}/main"


async def test_oom_killed_pod_fails_the_job_with_its_reason(engine: Engine) -> None:
    await engine.add([("train", None, k8s_spec(engine.folder, "--epochs", "3"))])
    ids = await submit_all(engine)
    pod = pod_of(engine, ids["train"])
    engine.server.run(pod, NAMESPACE)
    engine.server.fail(pod, exit_code=137, reason="OOMKilled", namespace=NAMESPACE)
    condition = engine.server.job(ids["train"], NAMESPACE)["status"]["conditions"][-1]
    assert (condition["type"], condition["reason"]) == ("Failed", "BackoffLimitExceeded")
    await engine.controller.poll()
    job = (await engine.jobs())["train"]
    assert (job.state, job.reason, job.exit_code, job.current.raw_state) == (
        State.FAILED,
        "OOMKilled",
        137,
        "Failed",
    )


async def test_a_job_past_its_deadline_fails_the_tasks_it_still_ran(engine: Engine) -> None:
    await engine.add([("sweep", t, k8s_spec(engine.folder, str(t), array="0-1")) for t in range(2)])
    ids = await submit_all(engine)
    (name,) = {i.split("_")[0] for i in ids.values()}
    engine.server.succeed(pod_of(engine, ids["sweep[0]"]), NAMESPACE)
    engine.server.run(pod_of(engine, ids["sweep[1]"]), NAMESPACE)
    engine.server.fail_job(
        name, "DeadlineExceeded", "Job was active longer than specified deadline", NAMESPACE
    )
    await engine.controller.poll()
    jobs = await engine.jobs()
    assert (jobs["sweep[0]"].state, jobs["sweep[0]"].exit_code) == (State.SUCCEEDED, 0)
    assert (jobs["sweep[1]"].state, jobs["sweep[1]"].reason) == (State.FAILED, "DeadlineExceeded")


async def test_waiting_and_evicted_pods_show_their_reasons(engine: Engine) -> None:
    await engine.add([("pull", None, k8s_spec(engine.folder)), ("evicted", None, k8s_spec(engine.folder))])
    ids = await submit_all(engine)
    engine.server.wait(pod_of(engine, ids["pull"]), "ImagePullBackOff", 'Back-off pulling image "busybox:1.36"',
                       namespace=NAMESPACE)  # fmt: skip
    engine.server.run(pod_of(engine, ids["evicted"]), NAMESPACE)
    engine.server.evict(pod_of(engine, ids["evicted"]), NAMESPACE)
    await engine.controller.poll()
    jobs = await engine.jobs()
    assert (jobs["pull"].state, jobs["pull"].reason) == (State.QUEUED, "ImagePullBackOff")
    assert (jobs["evicted"].state, jobs["evicted"].reason, jobs["evicted"].exit_code) == (
        State.FAILED,
        "Evicted",
        137,
    )


async def test_jobs_deleted_while_nobody_watched_are_settled_by_their_outputs_and_never_restarted(
    engine: Engine,
) -> None:
    folder = engine.folder
    policy = RestartPolicy(on=("exit:1", "BackoffLimitExceeded"), max_attempts=3)
    await engine.add([
        ("with-outputs", None, k8s_spec(folder, outputs=["result.csv"], restart=policy)),
        ("no-outputs", None, k8s_spec(folder, restart=policy)),
    ])  # fmt: skip
    ids = await submit_all(engine)
    for label in ids:
        engine.server.run(pod_of(engine, ids[label]), NAMESPACE)
    supervisor = Supervisor(engine.controller, holder="monitor")
    await supervisor.cycle()
    assert {j.state for j in (await engine.jobs()).values()} == {State.RUNNING}

    # the monitor stops; the jobs run on, write their outputs (or not) and are deleted
    (folder / "result.csv").write_text("a,b\n")
    for label in ids:
        engine.server.delete_job(ids[label], NAMESPACE)
    posts = engine.server.count("POST", JOBS)

    await Supervisor(engine.controller, holder="monitor").cycle()  # attached again
    jobs = await engine.jobs()
    assert (jobs["with-outputs"].state, jobs["with-outputs"].current.raw_state) == (
        State.SUCCEEDED,
        "DELETED",
    )
    assert (jobs["no-outputs"].state, jobs["no-outputs"].reason) == (State.LOST, DELETED_UNJUDGED)
    for _ in range(2):
        await supervisor.cycle()
    assert engine.server.count("POST", JOBS) == posts  # nothing restarted
    assert [len(j.attempts) for j in (await engine.jobs()).values()] == [1, 1]


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


async def test_resume_submits_only_the_missing_indexes_with_their_own_arguments(engine: Engine) -> None:
    folder = engine.folder
    await engine.add([("sweep", t, k8s_spec(folder, "--seed", f"{t}0", "it's", array="0-3", outputs=[f"out-{t}"]))
                      for t in range(4)])  # fmt: skip
    ids = await submit_all(engine)
    for task in range(4):
        if task in (0, 2):
            (folder / f"out-{task}").write_text("ok\n")
        engine.server.succeed(pod_of(engine, ids[f"sweep[{task}]"]), NAMESPACE)  # 1 and 3 exit 0, no output
    await engine.controller.poll()
    jobs = await engine.jobs()
    assert aggregate_state(j.state for j in jobs.values()) is State.PARTIAL

    [(plan, outcome)] = await resume(engine.controller, list(jobs.values()))
    assert outcome is not None and outcome.ok and plan.tasks and outcome.tasks == (1, 3)
    new = engine.server.job(outcome.scheduler_id or "", NAMESPACE)
    assert (new["spec"]["completions"], new["metadata"]["annotations"][TASKS]) == (2, "1,3")
    for position, task in enumerate((1, 3)):
        pod = engine.server.pods_of(new["metadata"]["name"], NAMESPACE)[position]
        command = pod["spec"]["containers"][0]["command"]
        index = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}["JOB_COMPLETION_INDEX"]
        assert index["valueFrom"]["fieldRef"]["fieldPath"].endswith("job-completion-index']")
        ran = subprocess.run(command, env={"JOB_COMPLETION_INDEX": str(position), "PATH": "/usr/bin:/bin"},
                             capture_output=True, text=True, timeout=10)  # fmt: skip
        assert ran.stdout.splitlines() == ["--seed", f"{task}0", "it's"], ran.stderr
        (folder / f"out-{task}").write_text("ok\n")
        engine.server.succeed(pod["metadata"]["name"], NAMESPACE)
    await engine.controller.poll()
    jobs = await engine.jobs()
    assert {label: j.state for label, j in jobs.items()} == {f"sweep[{t}]": State.SUCCEEDED for t in range(4)}
    assert jobs["sweep[3]"].job_id == f"{new['metadata']['name']}_3" and len(jobs["sweep[3]"].attempts) == 2
    assert len(jobs["sweep[0]"].attempts) == 1


async def test_restart_policy_creates_a_new_job_for_the_next_attempt(engine: Engine) -> None:
    policy = RestartPolicy(on=("OOMKilled",), max_attempts=2)
    await engine.add([("train", None, k8s_spec(engine.folder, restart=policy))])
    ids = await submit_all(engine)
    engine.server.fail(pod_of(engine, ids["train"]), exit_code=137, reason="OOMKilled", namespace=NAMESPACE)
    outcome = await Supervisor(engine.controller, holder="m").cycle()
    assert outcome.restarts and not outcome.warnings
    job = (await engine.jobs())["train"]
    assert [a.state for a in job.attempts] == [State.FAILED, State.QUEUED]
    first, second = (a.job_id for a in job.attempts)
    assert first != second and engine.server.job(second or "", NAMESPACE)["metadata"]["annotations"]


async def test_cancel_deletes_the_job_with_background_propagation(engine: Engine) -> None:
    await engine.add([("sweep", t, k8s_spec(engine.folder, str(t), array="0-2")) for t in range(3)])
    ids = await submit_all(engine)
    (name,) = {i.split("_")[0] for i in ids.values()}
    for task in range(3):
        engine.server.run(pod_of(engine, ids[f"sweep[{task}]"]), NAMESPACE)
    jobs = list((await engine.jobs()).values())

    with pytest.raises(SchedulerRejected, match="cannot stop some indexes"):
        await engine.controller.cancel(jobs[1:2])
    assert engine.server.count("DELETE", f"{JOBS}/{name}") == 0

    lines = await engine.controller.cancel(jobs)
    assert len(lines) == 3 and all("cancelled" in line for line in lines)
    (delete,) = [r for r in engine.server.requests if r.method == "DELETE"]
    assert (delete.path, delete.query["propagationPolicy"]) == (f"{JOBS}/{name}", ["Background"])
    assert engine.server.pods_of(name, NAMESPACE) == [] and not engine.server.jobs
    assert {j.state for j in (await engine.jobs()).values()} == {State.CANCELLED}
    assert not (await engine.controller.poll()).updates


async def test_cancel_leaves_a_job_that_already_ended_to_the_poll(engine: Engine) -> None:
    await engine.add([("quick", None, k8s_spec(engine.folder))])
    ids = await submit_all(engine)
    engine.server.succeed(pod_of(engine, ids["quick"]), NAMESPACE)
    await engine.controller.cancel(list((await engine.jobs()).values()))
    assert engine.server.count("DELETE", f"{JOBS}/{ids['quick']}") == 0
    await engine.controller.poll()
    assert (await engine.jobs())["quick"].state is State.SUCCEEDED


async def test_one_list_of_jobs_and_one_of_pods_per_poll(engine: Engine) -> None:
    folder = engine.folder
    await engine.add([(f"plain-{n}", None, k8s_spec(folder)) for n in range(3)])
    await engine.add([("sweep", t, k8s_spec(folder, str(t), array="0-3")) for t in range(4)])
    ids = await submit_all(engine)
    for job_id in ids.values():
        engine.server.run(pod_of(engine, job_id), NAMESPACE)
    for poll in range(1, 4):
        await engine.controller.poll()
        assert (engine.server.count("GET", JOBS), engine.server.count("GET", PODS)) == (poll, poll)
    lists = [r for r in engine.server.requests if r.path in (JOBS, PODS) and r.method == "GET"]
    assert {r.query["labelSelector"][0] for r in lists} == {"jobdeck.io/session=s"}
    assert {j.state for j in (await engine.jobs()).values()} == {State.RUNNING}


async def test_an_intent_left_open_is_settled_by_its_tag(engine: Engine) -> None:
    await engine.add([("lost-answer", None, k8s_spec(engine.folder))])
    jobs = await engine.store.jobs("s")
    request = build_request(jobs, "jobdeck:feedfacecafe")
    await engine.store.record_intent(engine.session_id, "lost-answer", "submit", request.tag, CLUSTER, jobs,
                                     engine.backend.describe_submit(request), time.time())  # fmt: skip
    await engine.backend.submit(request)  # reached the API server; the answer was never recorded
    outcome = await Supervisor(engine.controller, holder="m").cycle()
    assert [v.result.job_id if v.result else None for v in outcome.intents] == ["lost-answer-feedfacecafe"]
    job = (await engine.jobs())["lost-answer"]
    assert (job.state, job.job_id) == (State.QUEUED, "lost-answer-feedfacecafe")
    assert engine.server.count("POST", JOBS) == 1
    labels = engine.server.job("lost-answer-feedfacecafe", NAMESPACE)["metadata"]["labels"]
    assert labels["jobdeck.io/tag"].startswith("jobdeck-feedfacecafe-")  # ':' is no label character: hashed
