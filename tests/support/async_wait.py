"""Waiting on an async source (a poll, a listing) with a generous deadline and no timed assertion."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def read_until(
    read: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    what: str,
    timeout: float,
    shown: Callable[[T], Any] = repr,
) -> T:
    """Call `read` every half second until `done` holds for its answer; fails naming `what` and
    the last answer as `shown` renders it."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await read()
        if done(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}: {shown(answer)}")
        await asyncio.sleep(0.5)
