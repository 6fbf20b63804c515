"""Every SLURM state word maps to a canonical state; unknown words never crash or settle a job."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends.local.backend import LocalBackend
from backends.registry import stored_cluster
from backends.slurm.states import map_slurm
from monitor.states import State

CASES = [
    ("PENDING", "Priority", State.QUEUED, "Priority"),
    ("PENDING", "None", State.QUEUED, None),
    ("CONFIGURING", None, State.QUEUED, "CONFIGURING"),
    ("REQUEUED", None, State.QUEUED, "REQUEUED"),
    ("REQUEUE_HOLD", None, State.QUEUED, "REQUEUE_HOLD"),
    ("RUNNING", "None", State.RUNNING, None),
    ("COMPLETING", None, State.RUNNING, "COMPLETING"),
    ("SUSPENDED", None, State.RUNNING, "SUSPENDED"),
    ("COMPLETED", "None", State.VALIDATING, None),
    ("FAILED", "NonZeroExitCode", State.FAILED, None),
    ("TIMEOUT", "TimeLimit", State.FAILED, "TIMEOUT"),
    ("OUT_OF_MEMORY", None, State.FAILED, "OUT_OF_MEMORY"),
    ("NODE_FAIL", None, State.FAILED, "NODE_FAIL"),
    ("BOOT_FAIL", None, State.FAILED, "BOOT_FAIL"),
    ("DEADLINE", None, State.FAILED, "DEADLINE"),
    ("PREEMPTED", None, State.FAILED, "PREEMPTED"),
    ("CANCELLED", None, State.CANCELLED, None),
    ("CANCELLED by 0", None, State.CANCELLED, None),
    ("CA", None, State.CANCELLED, None),
    ("TO", None, State.FAILED, "TIMEOUT"),
    ("R", None, State.RUNNING, None),
    ("completed", None, State.VALIDATING, None),
]


@pytest.mark.parametrize(("word", "reason", "state", "kept"), CASES)
def test_slurm_words(word: str, reason: str | None, state: State, kept: str | None) -> None:
    mapped = map_slurm(word, reason)
    assert mapped.state is state
    assert mapped.reason == kept


def test_unknown_word_keeps_the_current_state_and_says_so() -> None:
    mapped = map_slurm("EXPLODED")
    assert mapped.state is None
    assert "EXPLODED" in (mapped.reason or "")


@given(st.text(), st.one_of(st.none(), st.text()))
def test_any_text_maps_without_crashing(word: str, reason: str | None) -> None:
    mapped = map_slurm(word, reason)
    assert mapped.state is None or isinstance(mapped.state, State)


def test_local_backend_speaks_slurm_words() -> None:
    assert LocalBackend.map_state("COMPLETED", None).state is State.VALIDATING
    with pytest.raises(KeyError, match="pbs"):  # no backend registered: no cluster, no words
        stored_cluster({"backend": "pbs", "name": "c"})
