"""No output, however damaged, makes a parser raise; what they return is always well formed."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends.slurm import parse
from monitor.model import Observation

PARSERS = {"squeue": parse.parse_squeue, "sacct": parse.parse_sacct, "scontrol": parse.parse_scontrol}
JOB_ID = re.compile(r"[0-9]+(_[0-9]+|\+[0-9]+)?")
# characters that mean something to the parsers, so mutations hit the interesting paths
SPECIAL = st.sampled_from(
    ["\x1f", "\n", " ", "=", "_", "[", "]", "-", "%", ":", ",", "(null)", "N/A", "9" * 12]
)


def check(parser_name: str, text: str) -> list[Observation]:
    observations = PARSERS[parser_name](text)
    for obs in observations:
        assert JOB_ID.fullmatch(obs.job_id), obs
        assert obs.raw_state and obs.raw_state == obs.raw_state.upper() and " " not in obs.raw_state
        assert obs.source == parser_name and obs.requeues >= 0
        for value in (obs.submit_time, obs.start_time, obs.end_time):
            assert value is None or (isinstance(value, float) and value > 0)
        assert obs.raw_id is None or obs.raw_id.strip() == obs.raw_id != ""
    return observations


@pytest.fixture(scope="session")
def outputs(captured) -> list[tuple[str, str]]:
    """(parser, text) of every captured command output; the stderr captures are left out."""
    return sorted(
        (stem.split("_")[0], text)
        for stem, text in captured.items()
        if stem.split("_")[0] in PARSERS and not stem.endswith(".stderr")
    )


def test_every_captured_output_is_read(outputs):
    assert {parser_name for parser_name, _ in outputs} == set(PARSERS)
    for parser_name, text in outputs:
        assert bool(check(parser_name, text)) == bool(text.strip()), text[:200]


@given(st.sampled_from(sorted(PARSERS)), st.text())
def test_random_text(parser_name, text):
    check(parser_name, text)


@given(st.sampled_from(sorted(PARSERS)), st.lists(st.one_of(st.text(max_size=30), SPECIAL), max_size=40))
def test_random_fields(parser_name, pieces):
    check(parser_name, "\x1f".join(pieces))


SCONTROL_KEYS = st.sampled_from([
    "JobId", "ArrayJobId", "ArrayTaskId", "HetJobId", "HetJobOffset", "JobName", "JobState", "Reason",
    "Restarts", "ExitCode", "SubmitTime", "StartTime", "EndTime", "Comment", "StdOut",
])  # fmt: skip


@given(st.lists(st.tuples(SCONTROL_KEYS, st.one_of(st.text(max_size=12), SPECIAL)), max_size=20))
def test_random_scontrol_pairs(pairs):
    check("scontrol", "JobId=" + " ".join(f"{key}={value}" for key, value in pairs))


@given(st.data())
def test_truncated_real_output(outputs, data):
    parser_name, text = data.draw(st.sampled_from(outputs))
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    check(parser_name, text[:cut])
    check(parser_name, text[cut:])


@given(st.data())
def test_mutated_real_output(outputs, data):
    parser_name, text = data.draw(st.sampled_from(outputs))
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        at = data.draw(st.integers(min_value=0, max_value=len(text)))
        end = data.draw(st.integers(min_value=at, max_value=min(len(text), at + 20)))
        text = text[:at] + data.draw(st.one_of(st.text(max_size=10), SPECIAL)) + text[end:]
    check(parser_name, text)


@given(st.data())
def test_any_line_of_real_output_parses_alone_to_some_of_its_jobs(outputs, data):
    parser_name, text = data.draw(st.sampled_from(outputs))
    line = data.draw(st.sampled_from(text.splitlines() or [""]))
    assert {o.job_id for o in check(parser_name, line)} <= {o.job_id for o in check(parser_name, text)}


@given(st.text())
def test_helpers_never_raise(text):
    exit_code, signal = parse.parse_exit_code(text)
    assert (exit_code is None) == (signal is None)
    assert parse.is_accounting_disabled(text) in (True, False) and parse.is_invalid_job_id(text) in (
        True,
        False,
    )
