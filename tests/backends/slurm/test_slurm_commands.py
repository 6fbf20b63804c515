"""The SLURM command lines: ID lists, chunking, windows, sbatch options and its answer."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends.slurm.commands import (
    FIELD_SEP,
    MAX_ID_ARG,
    SACCT_CHUNK,
    SACCT_DEFAULT_WINDOW,
    SACCT_FIELDS,
    SACCT_MARGIN,
    SQUEUE_FORMAT,
    parse_sbatch,
    sacct_argvs,
    sbatch_argv,
    sbatch_header,
    scontrol_argv,
    squeue_argv,
)
from backends.slurm.parse import expand_array_expression
from monitor.model import SubmitRequest, TaskSpec

PLAIN = SubmitRequest(
    session="s", name="train lr|0.1", tag="jd-abc", script="/w/run.sh", workdir="/w d",
    tasks=(TaskSpec(None, ("a",)),), is_array=False,
)  # fmt: skip
ARRAY = replace(PLAIN, tasks=tuple(TaskSpec(i, (str(i),)) for i in (7, 0, 3, 1, 2)), is_array=True)


def test_squeue_asks_for_the_ids_once_each():
    argv = squeue_argv(["12", "13_4", "12", "14"])
    assert argv == ["squeue", "-h", "-r", "-o", SQUEUE_FORMAT, "-j", "12,13_4,14"]
    assert SQUEUE_FORMAT.count(FIELD_SEP) == 10


def test_squeue_falls_back_to_me_when_the_id_list_is_too_long():
    many = [str(10_000_000 + i) for i in range(MAX_ID_ARG // 8 + 1)]
    assert squeue_argv(many)[-1] == "--me" and "-j" not in squeue_argv(many)
    fitting = many[: MAX_ID_ARG // 9]
    assert len(squeue_argv(fitting)[-1]) <= MAX_ID_ARG
    assert squeue_argv([])[-1] == "--me"


def test_sacct_window_and_chunks():
    (argv,) = sacct_argvs(["5", "6_1"], since_epoch=1_000.0, now=4_600.4)
    assert argv[:5] == ["sacct", "-X", "-D", "-n", "--parsable2"]
    assert argv[argv.index("-S") + 1] == f"now-{3601 + SACCT_MARGIN}"
    assert argv[argv.index("-o") + 1] == ",".join(SACCT_FIELDS) and argv[-2:] == ["-j", "5,6_1"]
    (default,) = sacct_argvs(["5"], since_epoch=None, now=4_600.0)
    assert default[default.index("-S") + 1] == f"now-{SACCT_DEFAULT_WINDOW + SACCT_MARGIN}"
    (future,) = sacct_argvs(["5"], since_epoch=9_999.0, now=4_600.0)  # clock skew
    assert future[future.index("-S") + 1] == f"now-{SACCT_MARGIN}"
    ids = [str(i) for i in range(2 * SACCT_CHUNK + 5)]
    chunks = sacct_argvs(ids, since_epoch=None, now=0.0)
    assert [len(argv[-1].split(",")) for argv in chunks] == [SACCT_CHUNK, SACCT_CHUNK, 5]
    assert [i for argv in chunks for i in argv[-1].split(",")] == ids
    assert sacct_argvs([], since_epoch=None, now=0.0) == []


def test_scontrol_argv():
    assert scontrol_argv() == ["scontrol", "show", "job", "-o"]
    assert scontrol_argv("12") == ["scontrol", "show", "job", "-o", "12"]


def test_sbatch_plain_job_defaults():
    assert sbatch_argv(replace(PLAIN, options=("--time=5", "--mem=1G"))) == [
        "sbatch", "--parsable", "--job-name=train lr|0.1", "--comment=jd-abc", "--open-mode=append",
        "--chdir=/w d", "--output=/w d/slurm-%j.out", "--time=5", "--mem=1G",
    ]  # fmt: skip


def test_sbatch_array_with_logs_and_throttle():
    argv = sbatch_argv(replace(ARRAY, log="/l/%A_%a.out", err="/l/%A_%a.err", extra={"throttle": 2}))
    assert argv[-3:] == ["--output=/l/%A_%a.out", "--error=/l/%A_%a.err", "--array=0-3,7%2"]
    assert sbatch_argv(ARRAY)[-2:] == ["--output=/w d/slurm-%A_%a.out", "--array=0-3,7"]


@pytest.mark.parametrize(
    "request_",
    [
        replace(ARRAY, tasks=()),
        replace(ARRAY, tasks=(TaskSpec(1, ()), TaskSpec(1, ()))),
        replace(ARRAY, tasks=(TaskSpec(None, ()),)),
        replace(ARRAY, tasks=(TaskSpec(-1, ()),)),
        replace(PLAIN, tasks=(TaskSpec(0, ()),)),
        replace(PLAIN, tasks=(TaskSpec(None, ()), TaskSpec(None, ()))),
        replace(ARRAY, extra={"throttle": 0}),
        replace(ARRAY, extra={"throttle": "2"}),
    ],
)
def test_sbatch_rejects_inconsistent_requests(request_):
    with pytest.raises(ValueError, match=request_.name):
        sbatch_argv(request_)


@given(st.sets(st.integers(min_value=0, max_value=5_000), min_size=1, max_size=60))
def test_array_option_names_exactly_the_requested_tasks(indices):
    request = replace(ARRAY, tasks=tuple(TaskSpec(i, ()) for i in indices))
    (option,) = [a for a in sbatch_argv(request) if a.startswith("--array=")]
    assert expand_array_expression(option.removeprefix("--array=")) == sorted(indices)


@pytest.mark.parametrize(
    ("stdout", "job_id"), [("123\n", "123"), ("123;jobdeck\n", "123"), ("warning\n77\n", "77")]
)
def test_parse_sbatch(stdout, job_id):
    assert parse_sbatch(stdout) == job_id


@pytest.mark.parametrize("stdout", ["", "\n", "Submitted batch job 12\n", "12x", "-1", "12;"])
def test_parse_sbatch_rejects_garbage(stdout):
    with pytest.raises(ValueError, match="sbatch printed no job ID"):
        parse_sbatch(stdout)


def test_sbatch_header_reads_only_the_leading_comment_block():
    script = (
        "#!/bin/bash\n#SBATCH --time=5\n\n# a comment\n  # indented comment\n#SBATCH --mem=1G\r\n"
        "#SBATCH --array=0-9\n#SBATCH -a 3\n#SBATCH --array-like-but-not=1\n"
        "echo start\n#SBATCH --partition=late\n"
    )
    assert sbatch_header(script) == ["#SBATCH --time=5", "#SBATCH --mem=1G", "#SBATCH --array-like-but-not=1"]
    assert sbatch_header("") == [] and sbatch_header("echo\n#SBATCH --time=1\n") == []


def test_parse_sbatch_on_captured_answers(captured, job_ids):
    assert {label: parse_sbatch(captured[f"sbatch_{label}"]) for label in job_ids} == job_ids
