"""Every Kubernetes word maps to a canonical state (reasons kept when they say something), unknown
words keep the state, and a Job deleted behind the monitor's back is judged by its outputs only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends.kubernetes.backend import KubernetesBackend
from backends.kubernetes.states import DELETED_REASON, map_kubernetes
from monitor.model import Attempt, Job, JobSpec, OutputCheck, PathStat
from monitor.state_map import DELETED, ran_to_completion
from monitor.states import State
from monitor.validation import DELETED_UNJUDGED, ValidationSettings, judge, plan_checks

CASES = [
    ("Pending", None, State.QUEUED, None),
    ("Pending", "ContainerCreating", State.QUEUED, None),
    ("Pending", "ImagePullBackOff", State.QUEUED, "ImagePullBackOff"),
    ("Pending", "ErrImagePull", State.QUEUED, "ErrImagePull"),
    ("Pending", "Unschedulable", State.QUEUED, "Unschedulable"),
    ("Suspended", None, State.QUEUED, "Suspended"),
    ("Running", None, State.RUNNING, None),
    ("Running", "CrashLoopBackOff", State.RUNNING, "CrashLoopBackOff"),
    ("FailureTarget", "BackoffLimitExceeded", State.RUNNING, "BackoffLimitExceeded"),
    ("SuccessCriteriaMet", None, State.RUNNING, "SuccessCriteriaMet"),
    ("Complete", None, State.VALIDATING, None),
    ("Succeeded", "Completed", State.VALIDATING, None),
    ("Failed", "BackoffLimitExceeded", State.FAILED, "BackoffLimitExceeded"),
    ("Failed", "DeadlineExceeded", State.FAILED, "DeadlineExceeded"),
    ("Failed", "OOMKilled", State.FAILED, "OOMKilled"),
    ("Failed", "Evicted", State.FAILED, "Evicted"),
    ("Failed", None, State.FAILED, None),
    ("DELETED", None, State.VALIDATING, DELETED_REASON),
    ("complete", None, State.VALIDATING, None),
]


@pytest.mark.parametrize(("word", "reason", "state", "kept"), CASES)
def test_kubernetes_words(word: str, reason: str | None, state: State, kept: str | None) -> None:
    mapped = KubernetesBackend.map_state(word, reason)
    assert (mapped.state, mapped.reason) == (state, kept)


def test_a_pod_phase_of_unknown_keeps_the_state() -> None:
    assert map_kubernetes("Unknown").state is None


@given(st.text(max_size=40), st.one_of(st.none(), st.text(max_size=40)))
def test_no_word_crashes_and_an_unknown_one_keeps_the_state(word: str, reason: str | None) -> None:
    mapped = map_kubernetes(word, reason)
    if word.strip().lower() not in {w.lower() for w, *_ in CASES} | {"unknown"}:
        assert mapped.state is None and "unknown Kubernetes state" in (mapped.reason or "")


def test_words_that_mean_ran_to_completion() -> None:
    assert [w for w in ("Complete", "Succeeded", "COMPLETED", "Failed", DELETED, None) if ran_to_completion(w)] == [
        "Complete", "Succeeded", "COMPLETED",
    ]  # fmt: skip


def deleted_job(outputs: tuple[str, ...]) -> Job:
    spec = JobSpec("k8s", "", "/w", outputs=tuple(OutputCheck(o) for o in outputs))
    attempt = Attempt(1, "train-0a1b2c", State.VALIDATING, raw_state=DELETED, reason=DELETED_REASON)
    return Job("s", "train", None, "k8s", State.VALIDATING, spec, DELETED_REASON, attempts=(attempt,), id=1)


@pytest.mark.parametrize("enabled", [True, False])
def test_a_deleted_job_without_outputs_is_lost_not_succeeded(enabled: bool) -> None:
    job = deleted_job(())
    update = judge(job, plan_checks(job), {}, 100.0, ValidationSettings(0.0, enabled))
    assert update is not None and (update.state, update.reason) == (State.LOST, DELETED_UNJUDGED)
    assert update.events[0].message == f"VALIDATING -> LOST ({DELETED_UNJUDGED})"


def test_a_deleted_job_is_settled_by_its_outputs() -> None:
    job = deleted_job(("/w/out",))
    present = judge(job, plan_checks(job), {"/w/out": PathStat(3, 1.0)}, 100.0, ValidationSettings(0.0))
    missing = judge(job, plan_checks(job), {"/w/out": None}, 100.0, ValidationSettings(0.0))
    assert present is not None and present.state is State.SUCCEEDED
    assert missing is not None and missing.state is State.FAILED
