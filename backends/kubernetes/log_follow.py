"""Container logs read without reading them again: the API serves a log whole, so a log that is
followed is kept here and each later read asks only for the lines since the last one seen
(`sinceTime` with `timestamps`). `sinceTime` has a resolution of one second, so the lines of that
second come again; their own timestamps (nanoseconds) tell which were seen already.

The copies are bounded: one log keeps at most its last LOG_BYTES (a reader asking for what came
before is told so), and the least recently read logs are dropped past CACHE_BYTES, to be read again
whole if they are asked for again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from backends.kubernetes.naming import LogRef

CACHE_BYTES = 32 * 1024 * 1024
LOG_BYTES = 16 * 1024 * 1024

Fetch = Callable[[LogRef, str | None], Awaitable[bytes]]
"""(log, sinceTime or None for the whole log) -> the API's answer with `timestamps=true`, at most
LOG_BYTES long (`limitBytes`)."""


@dataclass(slots=True)
class _Copy:
    data: bytearray = field(default_factory=bytearray)
    start: int = 0  # the offset in the log of the first byte kept
    last_stamp: str = ""  # the timestamp of the last line taken (see _key)
    at_last: int = 0  # how many lines taken carry exactly that timestamp


class LogCopies:
    """The logs being read, each kept whole and brought up to date by asking only for new lines."""

    def __init__(self, fetch: Fetch, limit: int = CACHE_BYTES, per_log: int = LOG_BYTES) -> None:
        self._fetch = fetch
        self._limit = limit
        self._per_log = per_log
        self._copies: OrderedDict[LogRef, _Copy] = OrderedDict()
        self.transferred = 0  # bytes of log answers received, for benchmarks/k8s_log_follow_bench.py

    async def read(self, ref: LogRef) -> tuple[bytes, int]:
        """The log as it is now: the bytes kept and the offset of the first of them in the log.
        FileNotFoundError (the pod or container is gone) forgets the copy."""
        copy = self._copies.get(ref)
        try:
            answer = await self._fetch(ref, _since(copy.last_stamp) if copy and copy.last_stamp else None)
        except FileNotFoundError:
            self._copies.pop(ref, None)
            raise
        self.transferred += len(answer)
        copy = self._copies.pop(ref, None) or _Copy()
        # an answer cut at limitBytes ends inside a line: that line is taken whole at the next read
        _take(
            copy,
            answer.rsplit(b"\n", 1)[0] + b"\n" if len(answer) >= LOG_BYTES and b"\n" in answer else answer,
        )
        if len(copy.data) > self._per_log:  # keep the tail, from a line's start
            cut = copy.data.find(b"\n", len(copy.data) - self._per_log) + 1 or len(copy.data) - self._per_log
            del copy.data[:cut]
            copy.start += cut
        self._copies[ref] = copy
        self._trim()
        return bytes(copy.data), copy.start

    def _trim(self) -> None:
        total = sum(len(c.data) for c in self._copies.values())
        while total > self._limit and len(self._copies) > 1:
            _, dropped = self._copies.popitem(last=False)
            total -= len(dropped.data)


def _since(stamp: str) -> str:
    """The whole second of a nanosecond timestamp, as `sinceTime` takes it."""
    return stamp.split(".", 1)[0].rstrip("Z") + "Z"


def _take(copy: _Copy, answer: bytes) -> None:
    """Append the lines of `answer` not taken yet, without their timestamps."""
    old_stamp, old_count = copy.last_stamp, copy.at_last
    for line in answer.splitlines(keepends=True):
        stamp, _, text = line.partition(b" ")
        when = _key(stamp.decode("ascii", "replace"))
        if when < old_stamp:
            continue
        if when == old_stamp and old_count > 0:
            old_count -= 1
            continue
        copy.data += text
        if when == copy.last_stamp:
            copy.at_last += 1
        else:
            copy.last_stamp, copy.at_last = when, 1


def _key(stamp: str) -> str:
    """A timestamp that sorts as text: its fraction padded to nanoseconds (RFC 3339 trims zeros)."""
    head, _, fraction = stamp.rstrip("Z").partition(".")
    return f"{head}.{fraction:0<9}Z"
