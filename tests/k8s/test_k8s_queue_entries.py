"""Jobs and pods as a real API server lists them (tests/fixtures/kubernetes, captured by capture.py
there from Jobs a user made without jobdeck) become "My jobs" entries with their facts: state and
reason, exit code, node, CPUs, GPUs, memory asked, deadline, priority, an Indexed Job as an array;
finished Jobs older than the history are left out; and no damaged answer crashes the listing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from backends.kubernetes.naming import JOB, JOB_NAME_LABEL, TAG
from backends.kubernetes.queue_entries import queue_entries
from monitor.queue import QueueEntry
from monitor.states import State

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kubernetes"
JOBS: list[dict[str, Any]] = json.loads((FIXTURES / "jobs.json").read_text())["items"]
PODS: list[dict[str, Any]] = json.loads((FIXTURES / "pods.json").read_text())["items"]
PREFIX = JOBS[0]["metadata"]["name"].rsplit("-", 1)[0]  # cap-RUN: the capture's Jobs are PREFIX-KIND


def listed(jobs: list[dict[str, Any]] = JOBS, since: float = 0.0) -> dict[str, QueueEntry]:
    """The entries by job ID without the capture's prefix ("running", "array_1")."""
    entries, problems = queue_entries("lab", jobs, PODS, since)
    assert problems == []
    return {e.job_id.removeprefix(f"{PREFIX}-"): e for e in entries}


def test_each_job_reads_with_its_state_and_reason() -> None:
    found = {key: (e.state, e.scheduler_state, e.reason, e.exit_code) for key, e in listed().items()}
    assert found == {
        "running": (State.RUNNING, "Running", None, None),
        "done": (State.SUCCEEDED, "Complete", None, 0),
        "failed": (State.FAILED, "Failed", "BackoffLimitExceeded", 3),
        "array_0": (State.SUCCEEDED, "Complete", None, 0),
        "array_1": (State.FAILED, "Failed", "Error", 4),
        "array_2": (State.SUCCEEDED, "Complete", None, 0),
        "oom": (State.FAILED, "Failed", "OOMKilled", 137),
        "evicted": (State.FAILED, "Failed", "Evicted", 137),
        "pull": (State.QUEUED, "Pending", "ImagePullBackOff", None),
        "deadline": (State.FAILED, "Failed", "DeadlineExceeded", None),
        "held": (State.QUEUED, "Suspended", "Suspended", None),
    }


def test_a_running_job_has_its_node_resources_deadline_and_priority() -> None:
    running = listed()["running"]
    assert (running.nodes, running.node_count, running.priority) == ("jobdeck-node", 1, 0)
    assert (running.cpus, running.gpus, running.req_mem) == (2, 1, 256 * 2**20)  # 1500m: two cores, partly
    assert running.time_limit == 3600.0
    assert running.start_time is not None and running.end_time is None and running.elapsed is None
    assert running.submit_time is not None and running.submit_time <= running.start_time
    assert (running.log_path or "").startswith(f"k8s://jobdeck/{PREFIX}-running-")
    assert (running.name, running.array_id, running.task, running.tag) == (
        f"{PREFIX}-running",
        None,
        None,
        None,
    )


def test_a_finished_job_has_its_times_and_asked_memory() -> None:
    done = listed()["done"]
    assert (done.cpus, done.gpus, done.req_mem) == (2, None, 10**9)
    assert done.start_time is not None and done.end_time is not None
    assert done.elapsed == done.end_time - done.start_time
    assert done.finished


def test_an_indexed_job_is_an_array_of_its_indexes() -> None:
    found = listed()
    tasks = [(found[f"array_{i}"].array_id, found[f"array_{i}"].task) for i in range(3)]
    assert tasks == [(f"{PREFIX}-array", i) for i in range(3)]
    assert "array" not in found


def test_finished_jobs_older_than_the_history_are_left_out() -> None:
    entries, _ = queue_entries("lab", JOBS, PODS, 0.0)
    latest = max(e.end_time or 0.0 for e in entries)
    assert sorted(listed(since=latest + 1)) == ["held", "pull", "running"]
    assert set(listed(since=latest)) >= {"running", "pull", "held"}
    assert len(listed(since=latest)) > 3


def test_a_jobdeck_job_carries_its_tag_and_task_name() -> None:
    job = copy.deepcopy(next(j for j in JOBS if j["metadata"]["name"].endswith("-running")))
    job["metadata"].setdefault("annotations", {}).update({TAG: "jobdeck:s:1", JOB: "train"})
    entry = listed([job])["running"]
    assert (entry.tag, entry.name) == ("jobdeck:s:1", "train")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)


def damaged(data: st.DataObject, document: Any) -> Any:
    """`document` with one value somewhere in it replaced by any JSON value."""
    document = copy.deepcopy(document)
    if not isinstance(document, dict | list) or not document or data.draw(st.booleans()):
        return data.draw(JSON)
    keys = list(document) if isinstance(document, dict) else list(range(len(document)))
    key = data.draw(st.sampled_from(keys))
    document[key] = damaged(data, document[key])
    return document


@settings(max_examples=400, deadline=None)
@given(st.data(), st.sampled_from(["job", "pod"]))
def test_a_damaged_job_or_pod_costs_at_most_its_own_job(data: st.DataObject, which: str) -> None:
    """Whatever one Job or pod of the answer says, the listing does not crash: the other Jobs read
    as before, and what cannot be read is named in one line."""
    jobs, pods = list(JOBS), list(PODS)
    items = jobs if which == "job" else pods
    position = data.draw(st.integers(0, len(items) - 1))
    original = items[position]
    items[position] = damaged(data, original)
    owner = original["metadata"]["name"] if which == "job" else original["metadata"]["labels"][JOB_NAME_LABEL]
    entries, problems = queue_entries("lab", jobs, pods, 0.0)
    before = queue_entries("lab", JOBS, PODS, 0.0)[0]
    assert {e for e in before if (e.array_id or e.job_id) != owner} <= set(entries)
    assert len(problems) <= 1 and all("cannot read" in p for p in problems)
