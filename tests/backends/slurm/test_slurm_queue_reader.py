"""Successive `squeue --me` answers (real captured lines, changed as a hold or a release changes
them): an unchanged job is the same QueueEntry object, a changed one a new object."""

from __future__ import annotations

from pathlib import Path

from backends.slurm.commands import FIELD_SEP
from backends.slurm.queue_reader import QueueReader

QUEUE_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "slurm" / "queue"
ANSWER = (QUEUE_FIXTURES / "squeue_mine.txt").read_bytes()


def released(answer: bytes, job_id: str) -> bytes:
    """The answer with one held job's line as its release prints it."""
    lines = answer.split(b"\n")
    for i, line in enumerate(lines):
        fields = line.split(FIELD_SEP.encode())
        if fields[0] == job_id.encode():
            fields[5], fields[15] = b"Priority", b"4294901700"
            lines[i] = FIELD_SEP.encode().join(fields)
    return b"\n".join(lines)


def test_an_unchanged_answer_is_the_same_tuple():
    reader = QueueReader("lab")
    first = reader.read(ANSWER)
    assert len(first) == len(ANSWER.strip().split(b"\n"))
    assert reader.read(bytes(ANSWER)) is first


def test_only_the_changed_job_is_a_new_object():
    reader = QueueReader("lab")
    first = {e.job_id: e for e in reader.read(ANSWER)}
    job_id = next(j for j, e in first.items() if e.reason == "JobHeldUser")
    second = {e.job_id: e for e in reader.read(released(ANSWER, job_id))}
    assert second.keys() == first.keys()
    assert [j for j in first if second[j] is not first[j]] == [job_id]
    assert second[job_id].reason == "Priority" and second[job_id].priority == 4294901700
    third = {e.job_id: e for e in reader.read(ANSWER)}  # held again: the first answer's entry comes back
    assert all(third[j] is first[j] for j in first)


def test_jobs_that_leave_and_a_line_printed_twice():
    reader = QueueReader("lab")
    lines = ANSWER.strip().split(b"\n")
    first = reader.read(ANSWER)
    fewer = reader.read(b"\n".join(lines[1:] + lines[-1:]) + b"\n")
    assert fewer == first[1:] and all(a is b for a, b in zip(fewer, first[1:], strict=True))
    assert reader.read(b"") == ()
