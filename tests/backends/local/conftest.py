"""Fixtures for the local backend: a backend on a temporary state directory, scripts, bounded waits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from backends.local.backend import LocalBackend
from backends.local.records import FINAL_STATES, process_start, read_record
from monitor.model import Observation, SubmitRequest, TaskSpec

GATE = """#!/bin/sh
echo "$$" > "$2"
echo started
while [ ! -e "$1" ]; do sleep 0.05; done
echo released
"""
"""Runs until the file named by its first argument exists; writes its PID to the second."""

WaitFor = Callable[..., Awaitable[Observation]]


def kill_leftovers(state_dir: Path) -> None:
    """Kill the process group of every shim still alive, so no test leaves processes behind."""
    for path in (state_dir / "records").glob("*.json"):
        record = read_record(path)
        if record.state in FINAL_STATES or record.pgid is None or record.pid is None:
            continue
        if process_start(record.pid) == record.pid_start:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(record.pgid, signal.SIGKILL)


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "state"
    yield path
    kill_leftovers(path)


@pytest.fixture
def backend(state_dir: Path) -> LocalBackend:
    return LocalBackend("here", state_dir)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def make_script(tmp_path: Path) -> Callable[..., Path]:
    def make(body: str, name: str = "job.sh", executable: bool = True) -> Path:
        path = tmp_path / name
        path.write_text(body)
        path.chmod(0o755 if executable else 0o644)
        return path

    return make


@pytest.fixture
def gate(make_script: Callable[..., Path]) -> Path:
    return make_script(GATE, name="gate.sh")


@pytest.fixture
def make_request(workdir: Path) -> Callable[..., SubmitRequest]:
    def make(
        script: Path,
        *args: str,
        indices: tuple[int, ...] | None = None,
        name: str = "job",
        log: str | None = None,
        err: str | None = None,
    ) -> SubmitRequest:
        tasks = (
            (TaskSpec(None, args),)
            if indices is None
            else tuple(TaskSpec(index, (*args, str(index))) for index in indices)
        )
        return SubmitRequest(
            session="s",
            name=name,
            tag=f"tag-{name}",
            script=str(script),
            workdir=str(workdir),
            tasks=tasks,
            is_array=indices is not None,
            log=log,
            err=err,
        )

    return make


@pytest.fixture
def start_gated(
    gate: Path, make_request: Callable[..., SubmitRequest], wait_for: WaitFor, tmp_path: Path
) -> Callable[..., Awaitable[tuple[str, Path]]]:
    """Submit a gated job (released by touching tmp_path/"go") and wait for `state`; returns its ID
    and the file its script writes its PID to."""
    started = 0

    async def start(
        backend: LocalBackend, state: str = "RUNNING", reason: str | None = None
    ) -> tuple[str, Path]:
        nonlocal started
        started += 1
        pid_file = tmp_path / f"pid-{started}"
        result = await backend.submit(make_request(gate, str(tmp_path / "go"), str(pid_file)))
        await wait_for(backend, result.job_id, state, reason=reason)
        return result.job_id, pid_file

    return start


@pytest.fixture
def wait_for() -> WaitFor:
    async def wait(
        backend: LocalBackend, job_id: str, *states: str, reason: str | None = None, timeout: float = 10.0
    ) -> Observation:
        """Poll until `job_id` is in one of `states` (and has `reason`, if given), at most `timeout` s."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            seen = (await backend.poll([job_id], None)).observations.get(job_id)
            if seen and seen.raw_state in states and (reason is None or seen.reason == reason):
                return seen
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{job_id} did not reach {states} within {timeout} s: {seen}")
            await asyncio.sleep(0.05)

    return wait
