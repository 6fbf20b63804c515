"""SqueueReader reads each squeue answer against the one before (an unchanged line is not parsed
again, only the jobs of changed lines change): what it returns after any history of answers is what
parse_squeue, which remembers nothing, reads in the same answer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backends.slurm import parse
from backends.slurm.squeue_reader import SqueueReader
from monitor.model import Observation

SEP = "\x1f"


def _line(display: str, base: str, raw: str, task: str, state: str, reason: str) -> str:
    return SEP.join([display, base, raw, task, "sweep", state, reason, "1795437715", "N/A", "N/A", "(null)"])


# lines of a real-looking queue: array tasks split or not yet split (their raw ID is the base ID),
# an unsplit record, plain jobs, damaged lines, and a job name holding a control character
LINES = st.sampled_from(
    [
        _line("9_0", "9", "9", "0", "PENDING", "JobHeldUser"),
        _line("9_1", "9", "9", "1", "PENDING", "JobHeldUser"),
        _line("9_1", "9", "11", "1", "PENDING", "JobHeldAdmin"),
        _line("9_2", "9", "12", "2", "RUNNING", "None"),
        _line("9_2", "9", "9", "2", "PENDING", "None"),
        _line("9_[3-5]", "9", "9", "[3-5]", "PENDING", "Priority"),
        _line("9_4", "9", "14", "4", "PENDING", "Priority"),
        _line("20", "20", "20", "N/A", "RUNNING", "None"),
        _line("21", "21", "21", "N/A", "PENDING", "Dependency"),
        _line("22", "22", "22", "N/A", "PENDING", "x\x0cy"),
        "garbage" + SEP + "line",
        "",
    ]
)
TEXTS = st.lists(LINES, max_size=12).map("\n".join)


def _fresh(text: str) -> dict[str, Observation]:
    return {obs.job_id: obs for obs in parse.parse_squeue(text)}


@given(st.lists(TEXTS, min_size=1, max_size=10), TEXTS)
def test_any_history_of_answers_reads_like_a_first_answer(texts: list[str], other: str) -> None:
    reader = SqueueReader()
    for text in texts:
        assert reader.read(text.encode()) == _fresh(text)
        assert parse.parse_squeue(other, reader.known_line) == parse.parse_squeue(
            other
        )  # lines it knows, taken


@given(st.lists(st.tuples(TEXTS, st.sets(st.sampled_from(["9_0", "9_1", "9_4", "20", "21"]))), max_size=8))
def test_only_the_jobs_asked_about_are_answered(history: list[tuple[str, set[str]]]) -> None:
    reader = SqueueReader()
    for text, wanted in history:
        asked = frozenset(wanted)
        expected = {job_id: obs for job_id, obs in _fresh(text).items() if job_id in asked}
        assert reader.read(text.encode(), asked) == expected
        assert reader.read(text.encode(), asked) == expected  # asked again, the same


# a queue of distinct lines changing in place: lines edited, moved, split from their array
QUEUE_LINES = st.builds(
    lambda task, raw, state, reason: _line(f"9_{task}", "9", raw, str(task), state, reason),
    st.integers(0, 5),
    st.sampled_from(["9", "30", "31"]),
    st.sampled_from(["PENDING", "RUNNING"]),
    st.sampled_from(["Priority", "JobHeldUser"]),
)
QUEUES = st.lists(QUEUE_LINES, min_size=1, max_size=8, unique=True)


@given(QUEUES, st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7), QUEUE_LINES), max_size=12))
def test_lines_edited_or_moved_in_place_read_like_a_first_answer(
    queue: list[str], edits: list[tuple[int, int, str]]
) -> None:
    reader = SqueueReader()
    assert reader.read("\n".join(queue).encode()) == _fresh("\n".join(queue))
    for i, j, line in edits:
        i, j = i % len(queue), j % len(queue)
        queue[i], queue[j] = queue[j], queue[i]
        if line not in queue:
            queue[i] = line
        text = "\n".join(queue)
        assert reader.read(text.encode()) == _fresh(text)


def test_a_task_keeps_its_raw_id_only_once_no_other_task_shares_it() -> None:
    both = "\n".join(
        [_line("9_0", "9", "9", "0", "PENDING", "x"), _line("9_1", "9", "9", "1", "PENDING", "x")]
    )
    reader = SqueueReader()
    assert [o.raw_id for o in reader.read(both.encode()).values()] == [None, None]
    alone = both.splitlines()[0]
    assert [o.raw_id for o in reader.read(alone.encode()).values()] == ["9"]  # the same line, remembered
    assert [o.raw_id for o in reader.read(both.encode()).values()] == [None, None]


def test_an_unchanged_line_gives_the_same_observation_and_the_answer_is_the_callers_own() -> None:
    lines = [_line(f"9_{n}", "9", str(100 + n), str(n), "PENDING", "Priority") for n in range(50)]
    reader = SqueueReader()
    first = reader.read("\n".join(lines).encode())
    order = list(first)
    lines[7] = _line("9_7", "9", "107", "7", "RUNNING", "None")
    first.clear()
    second = reader.read("\n".join(lines).encode())
    assert len(second) == 50 and second["9_7"].raw_state == "RUNNING"
    assert list(second) == order  # a job whose line changed keeps its place
    third = reader.read("\n".join(reversed(lines)).encode())  # the same lines in another order
    assert third == second and all(third[job_id] is obs for job_id, obs in second.items())


def test_a_line_ends_at_a_newline_only() -> None:
    (obs,) = parse.parse_squeue(_line("22", "22", "22", "N/A", "PENDING", "held\x0cby\x1cadmin"))
    assert obs.reason == "held\x0cby\x1cadmin"
