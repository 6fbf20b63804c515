"""SLURM array expressions ("0-99", "1,3,5-7", "0-20:2", "0-99%10"): parsed once, written back short."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_INDICES = 1_000_000
MAX_INDEX = 4_000_000  # SLURM's MaxArraySize cannot exceed 4,000,001, so no task index is larger

_PART = re.compile(r"([0-9]+)(?:-([0-9]+)(?::([0-9]+))?)?")
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class ArraySpec:
    """The task indices of an array job (ascending, unique) and its "%N" limit on tasks running at once."""

    indices: tuple[int, ...]
    throttle: int | None = None

    @property
    def expression(self) -> str:
        """The normalised expression, throttle included: what the scheduler is given."""
        suffix = f"%{self.throttle}" if self.throttle is not None else ""
        return format_indices(self.indices) + suffix


def parse_array(expr: str) -> ArraySpec:
    """Parse an array expression; raise ValueError naming the bad part, so the manifest can say where."""
    body, has_throttle, throttle_text = expr.strip().partition("%")
    throttle = None
    if has_throttle:
        if not _DIGITS.fullmatch(throttle_text) or _number(throttle_text) == 0:
            raise ValueError(f'bad throttle "%{throttle_text}": expected %N with N a positive integer')
        throttle = _number(throttle_text)
    if not body:
        raise ValueError("empty array expression")
    indices: set[int] = set()
    for part in body.split(","):
        indices.update(_parse_part(part))
        if len(indices) > MAX_INDICES:
            raise ValueError(f"more than {MAX_INDICES:,} indices")
    return ArraySpec(tuple(sorted(indices)), throttle)


def _parse_part(part: str) -> range:
    match = _PART.fullmatch(part)
    if match is None:
        raise ValueError(f'bad array range "{part}": expected N, N-M or N-M:S with non-negative integers')
    first = _number(match[1])
    last = _number(match[2]) if match[2] is not None else first
    step = _number(match[3]) if match[3] is not None else 1
    if last < first:
        raise ValueError(f'array range "{part}" is reversed')
    if step == 0:
        raise ValueError(f'array range "{part}" has step 0')
    if last > MAX_INDEX:
        raise ValueError(f'array range "{part}" goes above the largest task index {MAX_INDEX:,}')
    span = range(first, last + 1, step)
    if len(span) > MAX_INDICES:
        raise ValueError(f'array range "{part}" has more than {MAX_INDICES:,} indices')
    return span


def _number(digits: str) -> int:
    # Anything longer than MAX_INDEX's digits is too large anyway; int() of thousands of digits would raise.
    return int(digits) if len(digits) <= 9 else MAX_INDEX + 1


def format_indices(indices: Iterable[int]) -> str:
    """The shortest expression made of ascending ranges ("0-4,7,9-11", "0-20:2") for these indices.

    Dynamic programming over the sorted indices: a segment starting at i is either i alone, or the
    longest run with i's step, or that run minus its last index (which may start the next run).
    """
    values = sorted(set(indices))
    if not values:
        raise ValueError("no indices")
    if values[0] < 0:
        raise ValueError(f"negative index {values[0]}")
    n = len(values)
    run_end = list(range(n))  # run_end[i]: last index of the arithmetic run starting at i with i's step
    for i in range(n - 2, -1, -1):
        step = values[i + 1] - values[i]
        same = i + 2 < n and values[i + 2] - values[i + 1] == step
        run_end[i] = run_end[i + 1] if same else i + 1
    if run_end[0] == n - 1 and (n != 2 or values[1] - values[0] == 1):
        return _segment(values, 0, n - 1)  # one run (the usual "0-N"): skip the search
    cost = [0] * (n + 1)  # cost[i]: length of the shortest text for values[i:]
    choice = [0] * n
    for i in range(n - 1, -1, -1):
        for end in (run_end[i], run_end[i] - 1, i):  # longest first, so a tie keeps the longer range
            if end < i:
                continue
            length = len(_segment(values, i, end)) + (1 + cost[end + 1] if end + 1 < n else 0)
            if end == run_end[i] or length < cost[i]:
                cost[i], choice[i] = length, end
    parts, i = [], 0
    while i < n:
        parts.append(_segment(values, i, choice[i]))
        i = choice[i] + 1
    return ",".join(parts)


def _segment(values: list[int], start: int, end: int) -> str:
    if start == end:
        return str(values[start])
    step = values[start + 1] - values[start]
    suffix = f":{step}" if step != 1 else ""
    return f"{values[start]}-{values[end]}{suffix}"
