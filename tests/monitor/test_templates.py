from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.templates import escape, expand, placeholders


def test_placeholders() -> None:
    assert placeholders("out/{task}/{name}-{attempt}.txt") == {"task", "name", "attempt"}
    assert placeholders("{{task}} {{ {session}") == {"session"}
    assert placeholders("plain") == set()


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{", 'unclosed "{"'),
        ("a{task", 'unclosed "{"'),
        ("}", 'single "}"'),
        ("a}b", 'single "}"'),
        ("{}", 'bad placeholder "{}"'),
        ("{a b}", 'bad placeholder "{a b}"'),
        ("{1}", 'bad placeholder "{1}"'),
        ("{task:03d}", 'bad placeholder "{task:03d}"'),
    ],
)
def test_malformed_templates(template: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        placeholders(template)
    assert message in str(caught.value)


def test_expand_fills_values_and_unescapes() -> None:
    assert expand("{{x}} --task={task} {name}", task=3, name="n") == "{x} --task=3 n"


def test_expand_with_keep_returns_a_template() -> None:
    first = expand("{{lit}}/{task}/{attempt}", keep=("attempt",), task="{v}")
    assert first == "{{lit}}/{{v}}/{attempt}"
    assert placeholders(first) == {"attempt"}
    assert expand(first, attempt=2) == "{lit}/{v}/2"


def test_expand_without_a_value_fails() -> None:
    with pytest.raises(ValueError, match=r'no value for placeholder "\{task\}"'):
        expand("{task}", name="n")


_PIECES = st.lists(
    st.one_of(st.text(max_size=6).map(escape), st.sampled_from(["{task}", "{attempt}", "{name}"])),
    max_size=8,
)


@given(_PIECES, st.text(max_size=6), st.text(max_size=6), st.integers(0, 99))
def test_two_steps_equal_one(pieces: list[str], task: str, name: str, attempt: int) -> None:
    template = "".join(pieces)
    later = expand(template, keep=("attempt",), task=task, name=name)
    assert expand(later, attempt=attempt) == expand(template, task=task, name=name, attempt=attempt)


@given(st.text())
def test_escaped_text_is_literal(text: str) -> None:
    assert placeholders(escape(text)) == set()
    assert expand(escape(text)) == text
