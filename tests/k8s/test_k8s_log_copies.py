"""The log copies' arithmetic, on answers shaped as the kubelet writes them: lines of the second of
the last one seen come again with `sinceTime` and are taken once; a copy keeps its last bytes from a
line's start; an answer cut at limitBytes leaves its partial line for the next read."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backends.kubernetes.log_follow import LOG_BYTES, LogCopies
from backends.kubernetes.naming import LogRef

REF = LogRef("ns", "pod", "main")


def stamp(tenths: int) -> str:
    return f"2026-12-06T08:{tenths // 600:02d}:{tenths // 10 % 60:02d}.{tenths % 10}00000000Z"


class Log:
    """A container's log: (tenths of a second, text) per line; answers as pods/log with timestamps."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []

    async def fetch(self, ref: LogRef, since: str | None) -> bytes:
        assert since is None or len(since) == len("2026-12-06T08:00:00Z"), since  # a whole second, RFC 3339
        kept = [(t, text) for t, text in self.lines if since is None or stamp(t) >= since.rstrip("Z")]
        return "".join(f"{stamp(t)} {text}\n" for t, text in kept).encode()


@given(st.lists(st.lists(st.integers(0, 3), max_size=6), max_size=8))
async def test_every_line_is_taken_once_in_order(batches: list[list[int]]) -> None:
    log, now, count = Log(), 0, 0
    copies = LogCopies(log.fetch)
    for batch in batches:
        for step in batch:  # several lines may share a timestamp (step 0)
            now += step
            log.lines.append((now, f"line {count}"))
            count += 1
        data, start = await copies.read(REF)
        assert (data.decode(), start) == ("".join(f"line {n}\n" for n in range(count)), 0)


async def test_a_copy_keeps_its_last_bytes_from_a_lines_start() -> None:
    log = Log()
    copies = LogCopies(log.fetch, per_log=60)
    log.lines = [(n, f"line {n}") for n in range(12)]
    data, start = await copies.read(REF)
    assert (data, start) == (b"".join(f"line {n}\n".encode() for n in range(4, 12)), 28)


async def test_an_answer_cut_at_the_limit_leaves_its_partial_line() -> None:
    answers = [b"2026-12-06T08:00:00.000000000Z first\n2026-12-06T08:00:00.100000000Z sec".ljust(LOG_BYTES, b"x"),
               b"2026-12-06T08:00:00.000000000Z first\n2026-12-06T08:00:00.100000000Z second\n"]  # fmt: skip

    async def fetch(ref: LogRef, since: str | None) -> bytes:
        return answers.pop(0)

    copies = LogCopies(fetch)
    assert await copies.read(REF) == (b"first\n", 0)
    assert await copies.read(REF) == (b"first\nsecond\n", 0)


async def test_a_log_empty_at_first_is_read_whole_later() -> None:
    log = Log()
    copies = LogCopies(log.fetch)
    assert await copies.read(REF) == (b"", 0)
    log.lines = [(0, "first")]
    assert await copies.read(REF) == (b"first\n", 0)
