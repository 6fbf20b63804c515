"""parse_squeue remembers the lines of its last calls (a steady queue is not parsed again): what it
returns after any history of calls is what a parser with no memory returns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends.slurm import parse

SEP = "\x1f"


def _line(display: str, base: str, raw: str, task: str, state: str, reason: str) -> str:
    return SEP.join([display, base, raw, task, "sweep", state, reason, "1795437715", "N/A", "N/A", "(null)"])


# lines of a real-looking queue: array tasks split or not yet split (their raw ID is the base ID),
# an unsplit record, plain jobs, and damaged lines
LINES = st.sampled_from(
    [
        _line("9_0", "9", "9", "0", "PENDING", "JobHeldUser"),
        _line("9_1", "9", "9", "1", "PENDING", "JobHeldUser"),
        _line("9_1", "9", "11", "1", "PENDING", "JobHeldAdmin"),
        _line("9_2", "9", "12", "2", "RUNNING", "None"),
        _line("9_[3-5]", "9", "9", "[3-5]", "PENDING", "Priority"),
        _line("20", "20", "20", "N/A", "RUNNING", "None"),
        _line("21", "21", "21", "N/A", "PENDING", "Dependency"),
        "garbage" + SEP + "line",
        "",
    ]
)
TEXTS = st.lists(LINES, max_size=12).map("\n".join)


def _without_memory(text: str, monkeypatch: pytest.MonkeyPatch) -> list:
    with monkeypatch.context() as patched:
        patched.setattr(parse, "_SQUEUE_LINES", parse._SqueueLines())
        return parse.parse_squeue(text)


@given(st.lists(TEXTS, min_size=1, max_size=8))
def test_any_history_of_calls_reads_like_a_first_call(texts: list[str]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        for text in texts:
            assert parse.parse_squeue(text) == _without_memory(text, monkeypatch)


def test_a_task_keeps_its_raw_id_only_once_no_other_task_shares_it() -> None:
    both = "\n".join(
        [_line("9_0", "9", "9", "0", "PENDING", "x"), _line("9_1", "9", "9", "1", "PENDING", "x")]
    )
    assert [o.raw_id for o in parse.parse_squeue(both)] == [None, None]
    alone = both.splitlines()[0]
    assert [o.raw_id for o in parse.parse_squeue(alone)] == ["9"]  # the same line, read from memory
    assert [o.raw_id for o in parse.parse_squeue(both)] == [None, None]


def test_the_returned_list_is_the_callers_own() -> None:
    text = _line("20", "20", "20", "N/A", "RUNNING", "None")
    first = parse.parse_squeue(text)
    first.clear()
    assert len(parse.parse_squeue(text)) == 1
