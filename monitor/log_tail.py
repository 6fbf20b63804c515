"""Follow the end of a log file through `read_bytes`, reading only bytes not yet seen.

Memory stays bounded whatever the file: opening reads only the tail, each poll reads at most one chunk,
and a line longer than the display cap keeps only its head. Every line is made safe for a terminal:
escape sequences are removed and control characters shown escaped, so a log cannot move the cursor,
clear the screen or retitle the terminal. A reader that reports the file's identity (`read_chunk`)
also lets a file replaced by a new one be noticed, whatever its size.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from monitor.model import ReadChunk

ReadBytes = Callable[[str, int, int], Awaitable[tuple[bytes, int]]]
"""`read(path, offset, limit) -> (data, current file size)`, as `Backend.read_bytes`."""
ReadChunkOf = Callable[[str, int, int], Awaitable[ReadChunk]]
"""`read(path, offset, limit) -> ReadChunk` with the file's identity; see `chunk_reader`."""
ReadMany = Callable[[Sequence[tuple[str, int, int]]], Awaitable[dict[str, ReadChunk | None]]]
"""`Backend.read_many`."""

TRUNCATED_NOTICE = "--- log truncated; reading from the start ---"
ROTATED_NOTICE = "--- log replaced by a new file; reading it from the start ---"
FIRST_READ = 16 * 1024  # open() reads this much first: enough for a small log or a short resume

# CSI (cursor moves, clear screen, colours), OSC (titles, hyperlinks; ended by BEL or ST or the line's
# end), DCS/SOS/PM/APC strings, then any other two- or three-byte escape (charset, save cursor, reset).
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]"
)
# C0 controls but tab, DEL and the C1 controls (U+009B is a CSI to some terminals).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def chunk_reader(read_many: ReadMany) -> ReadChunkOf:
    """One file at a time through `read_many`, failing as `read_bytes` does (FileNotFoundError,
    PermissionError, OSError) so a tail reports it the same way."""

    async def read(path: str, offset: int, limit: int) -> ReadChunk:
        chunk = (await read_many([(path, offset, limit)])).get(path)
        if chunk is None:
            raise FileNotFoundError(f"{path}: no such file")
        if chunk.error is not None:
            denied = "Permission denied" in chunk.error
            raise (PermissionError if denied else OSError)(f"{path}: {chunk.error}")
        return chunk

    return read


def _escape_control(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def display_text(head: bytes, more: int = 0) -> str:
    """The safe one-line text of a line's bytes (its last carriage-return segment, at most the cap);
    `more` is how many bytes of the line were left out."""
    text = head.rstrip(b"\r").decode("utf-8", "backslashreplace")
    text = _CONTROL.sub(_escape_control, _ESCAPE_SEQUENCE.sub("", text))
    return f"{text} … ({more:,} more bytes)" if more else text


class _LineBuffer:
    """The line being assembled: only what the display will show is kept (the segment after the last
    carriage return that is followed by more text, and at most `cap` bytes of it)."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._head = bytearray()
        self._more = 0
        self._ends_cr = False

    def feed(self, data: bytes) -> None:
        body = data.rstrip(b"\r")
        cut = body.rfind(b"\r") + 1
        if cut or (body and self._ends_cr):  # later text overwrites the segment so far
            self._head.clear()
            self._more = 0
        segment = data[cut:]
        room = max(0, self._cap - len(self._head))
        self._head += segment[:room]
        self._more += max(0, len(segment) - room)
        if data:
            self._ends_cr = data.endswith(b"\r")

    def text(self) -> str:
        return display_text(bytes(self._head), self._more)

    def take(self) -> str:
        text = self.text()
        self.clear()
        return text

    def clear(self) -> None:
        self._head.clear()
        self._more = 0
        self._ends_cr = False


@dataclass(frozen=True, slots=True)
class TailBatch:
    """What one read brought: complete lines, the incomplete last line (if any) and what happened."""

    lines: list[str]
    pending: str | None = None  # the last line so far, without its newline (a progress bar, say)
    truncated: bool = False  # the file shrank: reading restarted from its start
    rotated: bool = False  # another file now has the name: reading restarted from its start
    skipped_bytes: int = 0  # bytes jumped over because the reader was too far behind
    size: int = 0  # the file's size at this read
    behind: int = 0  # bytes still unread after this batch: poll again soon

    @property
    def notices(self) -> list[str]:
        """Event lines to show before `lines`."""
        notices = [TRUNCATED_NOTICE] if self.truncated else []
        if self.rotated:
            notices.append(ROTATED_NOTICE)
        if self.skipped_bytes:
            notices.append(f"--- skipped {self.skipped_bytes:,} bytes; showing the tail ---")
        return notices


class LogTail:
    """Follows one file. `offset` is the start of the first line not yet returned complete: persist it
    and pass it back as `start_offset` to continue where a previous tail stopped.

    Read errors (FileNotFoundError, PermissionError, BackendUnavailable) propagate unchanged and leave
    the tail as it was, so the caller can show them and simply call again later. With `read_chunk`
    (used instead of `read`), a change of the file's identity restarts reading at its start."""

    def __init__(
        self,
        read: ReadBytes,
        path: str,
        *,
        start_offset: int | None = None,
        tail_bytes: int = 256 * 1024,
        chunk: int = 1024 * 1024,
        max_behind: int = 4 * 1024 * 1024,
        max_line_bytes: int = 64 * 1024,
        read_chunk: ReadChunkOf | None = None,
    ) -> None:
        self.path = path
        self._read = read
        self._read_chunk = read_chunk
        self._identity: str | None = None  # of the file whose lines were taken last
        self._start_offset = start_offset
        self._tail_bytes = tail_bytes
        self._chunk = chunk
        self._max_behind = max_behind
        self._line = _LineBuffer(max_line_bytes)
        self._pos = 0  # next byte to read
        self._line_start = 0  # first byte of the incomplete line
        self._skip_line = False  # discard up to the next newline (the tail began mid-line)
        self.is_open = False

    @property
    def offset(self) -> int:
        return self._line_start

    async def open(self) -> TailBatch:
        """The first batch: the file's tail, or what follows `start_offset` (unless that is more than
        `max_behind` bytes from the end, in which case the tail, with the skipped bytes reported).
        With `read_chunk`, the tail is one read counted from the end, whatever the file's size.
        Otherwise the first read is small: a small log (or few new bytes) takes one call, a big one two."""
        if self._start_offset is None and self._read_chunk is not None:
            chunk = await self._read_chunk(self.path, -(self._tail_bytes + 1), self._tail_bytes + 1)
            start = max(0, chunk.size - self._tail_bytes)
            first = chunk.size - len(chunk.data)  # such a read's data ends at the size
        else:
            start = self._start_offset or 0
            first = max(0, start - 1)
            chunk = await self._fetch(first, FIRST_READ)
        size = chunk.size
        if self._start_offset is None:
            wanted, truncated, skipped = max(0, size - self._tail_bytes), False, 0
        else:
            wanted, truncated, skipped = self._plan(start, size)
        if wanted == start and first == max(0, start - 1) and first + len(chunk.data) >= size:
            batch = self._restart(start, chunk, truncated, skipped)
        else:
            batch = await self._read_from(wanted, truncated, skipped)
        self.is_open = True
        return batch

    async def poll(self) -> TailBatch:
        """New complete lines since the last call (at most `chunk` bytes are read)."""
        if not self.is_open:
            raise RuntimeError(f"poll() before open() for {self.path}")
        chunk = await self._fetch(self._pos, self._chunk)
        rotated = None not in (self._identity, chunk.identity) and chunk.identity != self._identity
        start, truncated, skipped = self._plan(0 if rotated else self._pos, chunk.size)
        if start == self._pos and not rotated:
            return self._consume(chunk)
        return await self._read_from(start, truncated, skipped, rotated)

    async def _fetch(self, offset: int, limit: int) -> ReadChunk:
        if self._read_chunk is not None:
            return await self._read_chunk(self.path, offset, limit)
        data, size = await self._read(self.path, offset, limit)
        return ReadChunk(data, size, None)

    def _plan(self, pos: int, size: int) -> tuple[int, bool, int]:
        """Where to read next given the file's size: from the start if it shrank, from the tail if
        too far behind. Returns (start, truncated, skipped bytes)."""
        truncated = size < pos
        if truncated:
            pos = 0
        if size - pos <= self._max_behind:
            return pos, truncated, 0
        tail = size - self._tail_bytes
        return tail, truncated, tail - pos

    async def _read_from(self, start: int, truncated: bool, skipped: int, rotated: bool = False) -> TailBatch:
        chunk = await self._fetch(max(0, start - 1), self._chunk)
        return self._restart(start, chunk, truncated, skipped, rotated)

    def _restart(
        self, start: int, chunk: ReadChunk, truncated: bool, skipped: int, rotated: bool = False
    ) -> TailBatch:
        """Take `data`, read from one byte before `start` (or from 0): a start inside the file drops
        the partial line, and a start exactly on a line boundary loses nothing."""
        self._pos = self._line_start = max(0, start - 1)
        self._skip_line = start > 0
        self._line.clear()
        return self._consume(chunk, truncated, skipped, rotated)

    def _consume(
        self, chunk: ReadChunk, truncated: bool = False, skipped: int = 0, rotated: bool = False
    ) -> TailBatch:
        """Take the lines of `chunk`; only now is its file the one being followed."""
        data, size = chunk.data, chunk.size
        self._identity = chunk.identity
        lines: list[str] = []
        begin = 0
        if self._skip_line:
            newline = data.find(b"\n")
            begin = len(data) if newline < 0 else newline + 1
            self._skip_line = newline < 0
            if newline >= 0:
                self._line_start = self._pos + begin
        newline = data.find(b"\n", begin)
        while newline >= 0:
            self._line.feed(data[begin:newline])
            lines.append(self._line.take())
            begin = newline + 1
            self._line_start = self._pos + begin
            newline = data.find(b"\n", begin)
        self._line.feed(data[begin:])
        self._pos += len(data)
        has_pending = self._pos > self._line_start and not self._skip_line
        return TailBatch(
            lines=lines,
            pending=self._line.text() if has_pending else None,
            truncated=truncated,
            rotated=rotated,
            skipped_bytes=skipped,
            size=size,
            behind=max(0, size - self._pos),
        )
