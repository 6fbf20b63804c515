from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.arrays import MAX_INDICES, ArraySpec, format_indices, parse_array


@pytest.mark.parametrize(
    ("expr", "indices", "throttle"),
    [
        ("0-4", (0, 1, 2, 3, 4), None),
        ("1,3,5-7", (1, 3, 5, 6, 7), None),
        ("0-20:2", (0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20), None),
        ("0-9%3", (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), 3),
        ("7", (7,), None),
        ("5,1-3,2", (1, 2, 3, 5), None),
        ("1-10:4", (1, 5, 9), None),
    ],
)
def test_parse_array(expr: str, indices: tuple[int, ...], throttle: int | None) -> None:
    assert parse_array(expr) == ArraySpec(indices, throttle)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "empty array expression"),
        ("%4", "empty array expression"),
        ("5-2", 'array range "5-2" is reversed'),
        ("-1", 'bad array range "-1"'),
        ("0--3", 'bad array range "0--3"'),
        ("a-b", 'bad array range "a-b"'),
        ("1,,2", 'bad array range ""'),
        ("1-3:2:1", 'bad array range "1-3:2:1"'),
        ("0-4:0", 'array range "0-4:0" has step 0'),
        ("0-4%0", 'bad throttle "%0"'),
        ("0-4%x", 'bad throttle "%x"'),
        ("٣", 'bad array range "٣"'),  # a non-ASCII digit is not a number here
        ("0-1000000", "has more than 1,000,000 indices"),
        ("0-999999,1000000-1000001", "more than 1,000,000 indices"),
        ("0-" + "9" * 5000, "goes above the largest task index"),
    ],
)
def test_parse_array_rejects(expr: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_array(expr)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_largest_array_is_accepted() -> None:
    spec = parse_array(f"0-{MAX_INDICES - 1}")
    assert len(spec.indices) == MAX_INDICES
    assert spec.expression == f"0-{MAX_INDICES - 1}"


@pytest.mark.parametrize(
    ("indices", "text"),
    [
        ([0, 1, 2, 3, 4, 7, 9, 10, 11], "0-4,7,9-11"),
        (range(0, 21, 2), "0-20:2"),
        ([3], "3"),
        ([1, 3], "1,3"),  # shorter than 1-3:2
        ([4, 5], "4-5"),
        ([0, 1, 2, 3, 5, 7, 9], "0-3,5-9:2"),
        ([11, 10, 9, 9], "9-11"),
    ],
)
def test_format_indices(indices: list[int], text: str) -> None:
    assert format_indices(indices) == text


def test_expression_keeps_the_throttle() -> None:
    assert parse_array("5,0-3%2").expression == "0-3,5%2"


@pytest.mark.parametrize("indices", [[], [-1, 2]])
def test_format_indices_rejects(indices: list[int]) -> None:
    with pytest.raises(ValueError):
        format_indices(indices)


@given(st.sets(st.integers(0, 3000), min_size=1, max_size=300))
def test_format_then_parse_round_trips(indices: set[int]) -> None:
    text = format_indices(indices)
    assert parse_array(text).indices == tuple(sorted(indices))
    assert format_indices(parse_array(text).indices) == text


def _shortest(values: list[int]) -> int:
    """Brute force over every split of the sorted indices into arithmetic runs."""
    best = [0] * (len(values) + 1)
    for i in range(len(values) - 1, -1, -1):
        options = []
        for end in range(i, len(values)):
            steps = {values[k + 1] - values[k] for k in range(i, end)}
            if len(steps) > 1:
                break
            if end == i:
                piece = str(values[i])
            else:
                step = steps.pop()
                piece = f"{values[i]}-{values[end]}" + (f":{step}" if step != 1 else "")
            options.append(len(piece) + (1 + best[end + 1] if end + 1 < len(values) else 0))
        best[i] = min(options)
    return best[0]


@given(st.sets(st.integers(0, 60), min_size=1, max_size=14))
def test_format_is_as_short_as_any_split_into_runs(indices: set[int]) -> None:
    assert len(format_indices(indices)) == _shortest(sorted(indices))
