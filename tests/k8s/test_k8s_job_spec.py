"""The Job jobdeck creates: names and labels Kubernetes accepts whatever the job is called, explicit
arguments per completion index (run through a real /bin/sh), a job template filled in, and the
backoff and TTL settings."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.kubernetes.backend import KubernetesBackend
from backends.kubernetes.connection import Settings
from backends.kubernetes.job_spec import build_job, index_script
from backends.kubernetes.naming import JOB, SESSION, TAG, TASKS, LogRef, job_name, label_value, parse_log_ref
from monitor.model import SubmitRequest, TaskSpec

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
TAG_TEXT = "jobdeck:0a1b2c3d4e5f"


def request(
    name: str = "sweep", tasks: tuple[TaskSpec, ...] = (TaskSpec(None, ("a",)),), **extra: object
) -> SubmitRequest:
    is_array = tasks[0].index is not None
    extra = {"image": "busybox:1.36", "command": ["printf", "%s\\n"], **extra}
    return SubmitRequest("session/with spaces", name, TAG_TEXT, "", "/w", tasks, is_array, extra=extra)


@given(st.text(min_size=1, max_size=300))
def test_any_name_becomes_a_valid_label_value_and_job_name(name: str) -> None:
    value = label_value(name)
    assert len(value) <= 63 and LABEL_VALUE.fullmatch(value)
    if len(name) <= 63 and LABEL_VALUE.fullmatch(name):
        assert value == name
    job = job_name(name, TAG_TEXT)
    assert len(job) <= 63 and DNS_LABEL.fullmatch(job) and job.endswith("-0a1b2c3d4e5f")


def test_different_long_names_keep_different_labels() -> None:
    stem = "x" * 80
    assert label_value(stem + "a") != label_value(stem + "b")
    assert label_value(stem + "a").startswith("x" * 54)


def test_a_plain_job_runs_its_command_with_the_tasks_arguments() -> None:
    job = build_job(request(tasks=(TaskSpec(None, ("--lr", "0.1", "it's")),)), "team", ttl_after_finished=600)
    spec = job["spec"]
    container = spec["template"]["spec"]["containers"][0]
    assert (container["command"], container["args"]) == (["printf", "%s\\n"], ["--lr", "0.1", "it's"])
    assert (spec["completions"], spec["backoffLimit"], spec["ttlSecondsAfterFinished"]) == (1, 0, 600)
    assert "completionMode" not in spec and spec["template"]["spec"]["restartPolicy"] == "Never"
    meta = job["metadata"]
    assert meta["annotations"] == {SESSION: "session/with spaces", JOB: "sweep", TAG: TAG_TEXT}
    assert meta["labels"][SESSION] == label_value("session/with spaces")
    assert spec["template"]["metadata"]["labels"] == meta["labels"]  # the pods are found by the same labels


def test_an_array_is_an_indexed_job_of_exactly_the_requested_tasks() -> None:
    tasks = (TaskSpec(7, ("seven",)), TaskSpec(3, ("three", "$HOME", "a\nb")))
    job = build_job(request(tasks=tasks, backoff_limit=2), "team")
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 2, 2)
    assert (spec["backoffLimitPerIndex"], "backoffLimit" in spec) == (2, False)
    assert job["metadata"]["annotations"][TASKS] == "3,7"
    command = spec["template"]["spec"]["containers"][0]["command"]
    for index, expected in ((0, ["three", "$HOME", "a", "b"]), (1, ["seven"])):
        ran = subprocess.run(command, env={"JOB_COMPLETION_INDEX": str(index), "PATH": "/usr/bin:/bin"},
                             capture_output=True, text=True, timeout=10)  # fmt: skip
        assert ran.returncode == 0 and ran.stdout.splitlines() == expected
    ran = subprocess.run(
        command, env={"JOB_COMPLETION_INDEX": "2"}, capture_output=True, text=True, timeout=10
    )
    assert ran.returncode == 2 and "completion index 2 has no task" in ran.stderr


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",))), max_size=4
    )
)
def test_every_argument_arrives_literally(args: list[str]) -> None:
    script = index_script(request(tasks=(TaskSpec(0, tuple(args)),)), ["printf", "%s\\0"])
    ran = subprocess.run(["/bin/sh", "-c", script, "jobdeck"], env={"JOB_COMPLETION_INDEX": "0"},
                         capture_output=True, timeout=10)  # fmt: skip
    assert ran.stdout.split(b"\0")[:-1] == [a.encode() for a in args] or (not args and ran.stdout == b"\0")


def test_a_job_template_is_filled_in_where_it_leaves_fields_unset() -> None:
    template = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"generateName": "x-", "labels": {"team": "vision"}},
        "spec": {"backoffLimit": 9, "template": {"spec": {
            "containers": [{"name": "trainer", "image": "registry/train:2", "resources": {"limits": {"nvidia.com/gpu": 1}}},
                           {"name": "sidecar", "image": "envoy"}],
            "nodeSelector": {"gpu": "a100"},
        }}},
    }  # fmt: skip
    job = build_job(request(job_template=template, image="ignored"), "team")
    pod = job["spec"]["template"]["spec"]
    main = pod["containers"][0]
    assert (main["name"], main["image"], main["command"], main["args"]) == (
        "trainer", "registry/train:2", ["printf", "%s\\n"], ["a"],
    )  # fmt: skip
    assert main["resources"] and pod["containers"][1] == {"name": "sidecar", "image": "envoy"}
    assert pod["nodeSelector"] == {"gpu": "a100"} and job["spec"]["backoffLimit"] == 0
    assert "generateName" not in job["metadata"] and job["metadata"]["labels"]["team"] == "vision"
    assert template["spec"]["backoffLimit"] == 9  # the stored template is not changed


def test_a_job_without_image_or_command_is_refused() -> None:
    with pytest.raises(ValueError, match="no image"):
        build_job(request(image=None), "team")
    with pytest.raises(ValueError, match="no command"):
        build_job(request(command=None), "team")


def test_log_paths_round_trip() -> None:
    ref = LogRef("team", "sweep-abc-3-xk2p9", "main", previous=True)
    assert str(ref) == "k8s://team/sweep-abc-3-xk2p9/main?previous"
    assert parse_log_ref(str(ref)) == ref and parse_log_ref("/scratch/out.log") is None
    with pytest.raises(ValueError, match="k8s://NAMESPACE/POD/CONTAINER"):
        parse_log_ref("k8s://team/pod")


def test_the_dry_run_shows_exactly_the_job_that_would_be_created() -> None:
    tasks = (TaskSpec(0, ("a b",)), TaskSpec(4, ("it's",)))
    text = KubernetesBackend("k", settings=Settings(namespace="team")).describe_submit(request(tasks=tasks))
    assert yaml.safe_load(text) == build_job(request(tasks=tasks), "team")
    assert "- |\n" in text  # the index script as a readable block
