"""No queue output, however damaged, makes the queue parsers raise; a line's fields survive any text
in the job name; durations read back what SLURM prints."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from backends.slurm.commands import FIELD_SEP
from backends.slurm.queue_parse import history_rows, queue_line
from backends.slurm.units import duration
from monitor.queue import QueueEntry

QUEUE_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "slurm" / "queue"
SQUEUE_LINES = (QUEUE_FIXTURES / "squeue_mine.txt").read_bytes().splitlines()
SACCT_LINES = (QUEUE_FIXTURES / "sacct_history.txt").read_text().splitlines()
JOB_ID = re.compile(r"[0-9]+(_[0-9]+|\+[0-9]+)?")
SPECIAL = st.sampled_from(
    [FIELD_SEP, "\n", " ", "=", "_", "[", "]", "-", ":", ",", ".", "(null)", "N/A", "UNLIMITED",
     "gres/gpu:a=", "mem=", "9" * 12, "1-02:03:04", "00:01.5", "12K", "4000Mc"]
)  # fmt: skip
# what a job name may hold and still come back whole: anything but the two separators
NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=f"{FIELD_SEP}\n"))


def check(entries: tuple[QueueEntry, ...] | list[QueueEntry]) -> None:
    for entry in entries:
        assert JOB_ID.fullmatch(entry.job_id), entry
        assert entry.scheduler_state == entry.scheduler_state.upper() and " " not in entry.scheduler_state
        assert entry.cpu_efficiency is None or 0 <= entry.cpu_efficiency <= 1
        for value in (entry.submit_time, entry.start_time, entry.end_time, entry.time_limit):
            assert value is None or value >= 0
        for count in (entry.max_rss, entry.req_mem, entry.cpus, entry.gpus, entry.node_count):
            assert count is None or count >= 0
        assert (entry.array_id is None) == (entry.task is None) == ("_" not in entry.job_id)


@given(st.binary())
def test_random_bytes(data):
    check(queue_line("lab", data))
    check(history_rows("lab", data.decode(errors="replace")))


@given(st.lists(st.one_of(st.text(max_size=20), SPECIAL), max_size=30))
def test_random_fields(pieces):
    text = FIELD_SEP.join(pieces)
    check(queue_line("lab", text.encode(errors="surrogatepass")))
    check(history_rows("lab", text))


@given(st.sampled_from(SQUEUE_LINES), st.integers(0, 20), st.text(max_size=12))
def test_a_damaged_captured_line(line, field, text):
    fields = line.decode().split(FIELD_SEP)
    fields[field % len(fields)] = text
    check(queue_line("lab", FIELD_SEP.join(fields).encode(errors="surrogatepass")))


@given(st.sampled_from(SQUEUE_LINES), NAMES)
def test_the_name_in_a_queue_line_is_anything(line, name):
    fields = line.decode().split(FIELD_SEP)
    fields[3] = name
    before = queue_line("lab", line)
    assert queue_line("lab", FIELD_SEP.join(fields).encode()) == tuple(replace(e, name=name) for e in before)


@given(st.sampled_from([line for line in SACCT_LINES if "." not in line.split(FIELD_SEP)[1]]), NAMES)
def test_the_name_in_accounting_is_anything(line, name):
    fields = line.split(FIELD_SEP)
    fields[2] = name
    before = history_rows("lab", line)
    assert history_rows("lab", FIELD_SEP.join(fields)) == [replace(e, name=name) for e in before]


@given(st.integers(0, 365), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59), st.integers(0, 999))
def test_durations_as_slurm_prints_them(days, hours, minutes, seconds, millis):
    whole = days * 86400 + hours * 3600 + minutes * 60 + seconds
    assert duration(f"{days}-{hours:02}:{minutes:02}:{seconds:02}") == whole
    assert duration(f"{minutes:02}:{seconds:02}.{millis:03}") == minutes * 60 + seconds + millis / 1000
    if not days:
        assert duration(f"{hours:02}:{minutes:02}:{seconds:02}") == whole
