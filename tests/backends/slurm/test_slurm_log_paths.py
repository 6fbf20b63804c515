"""SLURM filename patterns: measured cases, and the names a real sbatch creates."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path

import pytest

from backends.slurm.commands import parse_sbatch
from monitor.log_patterns import NO_ARRAY_TASK, resolve_pattern

ALL_CODES = "%j_%x_%A_%a_%u_%N_%%_%3j_%12A_%5a_%J_%s_%n_%t_%3x_%q_%%j.out"


@pytest.mark.parametrize(
    ("pattern", "kwargs", "expected"),
    [
        ("/l/slurm-%j.out", {"job_id": 20, "name": "n"}, "/l/slurm-20.out"),
        ("%A_%a", {"job_id": "9", "array_job_id": "8", "task": 0, "name": "n"}, "8_0"),
        ("%A_%a", {"job_id": 20, "name": "n"}, f"20_{NO_ARRAY_TASK}"),
        ("%x-%u-%N", {"job_id": 1, "name": "a b", "user": "me", "node": "vm"}, "a b-me-vm"),
        (
            "%3a|%0j|%5j|%12A",
            {"job_id": 21, "task": 7, "array_job_id": 21, "name": "n"},
            "007|21|00021|0000000021",
        ),
        ("%%j %%%j 100%", {"job_id": 3, "name": "n"}, "%j %3 100%"),
        ("%u/%N/%q/%b", {"job_id": 3, "name": "n"}, "%u/%N/%q/%b"),  # unknown values stay
        ("r\\%j_%j.out", {"job_id": 22, "name": "n"}, "r%j_%j.out"),  # a backslash stops expansion
    ],
)
def test_measured_cases(pattern, kwargs, expected):
    assert resolve_pattern(pattern, **kwargs) == expected


@pytest.mark.cluster
def test_names_match_what_sbatch_creates(cluster, tmp_path: Path):
    user, node = getpass.getuser(), socket.gethostname().split(".")[0]
    submit = ["sbatch", "--parsable", "-o", f"{tmp_path}/{ALL_CODES}", "--wrap", "true"]
    plain = parse_sbatch(cluster.run([*submit, "--job-name=p q"]))
    array = parse_sbatch(cluster.run([*submit, "--job-name=arr", "--array=2,5"]))
    expected = {}
    (done,) = cluster.wait_finished(plain, {plain}).values()
    expected[done.raw_id] = resolve_pattern(ALL_CODES, job_id=plain, name="p q", user=user, node=node)
    for task, obs in cluster.wait_finished(array, {f"{array}_2", f"{array}_5"}).items():
        index = int(task.split("_")[1])
        expected[obs.raw_id] = resolve_pattern(
            ALL_CODES, job_id=obs.raw_id, array_job_id=array, task=index, name="arr", user=user, node=node
        )
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(expected.values())
