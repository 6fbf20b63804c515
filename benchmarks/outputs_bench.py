"""How long checking 100,000 expected outputs takes (half present, in 100 folders under /tmp).

Run: .venv/bin/python benchmarks/outputs_bench.py [--runs 5] [--paths 100000] [--folders 100]
Goals: under 1 s on this machine (RemoteFiles over LocalRunner, as the SLURM backend checks files on
the login node it runs on; LocalBackend.stat_paths) and under 3 s over SSH (RemoteFiles over one
SshRunner to the loopback sshd; needs JOBDECK_TEST_SSH_CONFIG: source /tmp/jobdeck-cluster/env.sh),
where it is within 1.3x of the same check here (the ratio is printed).

Each figure is the median of --runs runs after one warm-up, for one call with every path (as
`validate` of a 100,000-task array asks) and for the same paths in validation's batches
(monitor.output_check.stat_in_batches). The split shows where the time goes: the remote command
(xargs + stat, and for SSH the transfer) and what is left in this process (encoding, parsing).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from log_tail_bench import machine

from backends.local.backend import LocalBackend
from backends.runners.base import CommandResult, Runner
from backends.runners.files import _STAT, RemoteFiles
from backends.runners.local import LocalRunner
from backends.runners.ssh import SshRunner
from monitor.model import PathStat
from monitor.output_check import stat_in_batches

GOALS = {"local": 1.0, "ssh": 3.0}
Stats = dict[str, PathStat | None]


@dataclass
class TimedRunner:
    """A runner that notes how long its commands took and how many bytes went each way."""

    inner: Runner
    seconds: float = 0.0
    sent: int = 0
    received: int = 0
    calls: int = 0
    description: str = field(init=False)

    def __post_init__(self) -> None:
        self.description = self.inner.description

    async def run(self, argv: Sequence[str], **options: Any) -> CommandResult:
        started = time.perf_counter()
        return self._count(started, await self.inner.run(argv, **options), options.get("input"))

    async def read_frames(self, requests: bytes, timeout: float) -> CommandResult | None:
        started = time.perf_counter()
        result = await self.inner.read_frames(requests, timeout)
        return result if result is None else self._count(started, result, requests)

    def _count(self, started: float, result: CommandResult, sent: bytes | None) -> CommandResult:
        self.seconds += time.perf_counter() - started
        self.sent += len(sent or b"")
        self.received += len(result.stdout) + len(result.stderr)
        self.calls += 1
        return result

    def reset(self) -> None:
        self.seconds, self.sent, self.received, self.calls = 0.0, 0, 0, 0

    def take_notices(self) -> list[str]:
        return self.inner.take_notices()

    async def close(self) -> None:
        await self.inner.close()


def make_outputs(root: Path, count: int, folders: int) -> list[str]:
    """`count` expected paths spread over `folders` folders; every other one exists (16 bytes)."""
    paths = []
    for n in range(count):
        folder = root / f"task-{n % folders:03d}"
        path = folder / f"out-{n:06d}.txt"
        if n < folders:
            folder.mkdir()
        if n % 2 == 0:
            path.write_bytes(b"result %08d\n" % n)
        paths.append(str(path))
    return paths


async def median_run(
    check: Callable[[], Awaitable[Stats]], runs: int, present: int
) -> tuple[float, list[float]]:
    """The median and every time of `runs` checks after a warm-up (caches, the SSH connection)."""
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        found = await check()
        times.append(time.perf_counter() - started)
        got = sum(1 for s in found.values() if s is not None)
        assert got == present, f"found {got} present outputs, expected {present}"
    return statistics.median(times[1:]), times[1:]


def bare_command(paths: Sequence[str]) -> float:
    """The command RemoteFiles runs, alone (stdout and stderr into pipes), run here."""
    data = b"".join(p.encode() + b"\0" for p in paths)
    started = time.perf_counter()
    subprocess.run(_STAT, input=data, capture_output=True, check=False, timeout=120)
    return time.perf_counter() - started


def report(label: str, goal: float | None, median: float, times: list[float], note: str = "") -> None:
    verdict = "" if goal is None else ("  goal met" if median < goal else f"  GOAL MISSED (< {goal:g} s)")
    spread = f"min {min(times):.3f}  max {max(times):.3f}"
    print(f"  {label:<44} median {median:6.3f} s  ({spread}){verdict}{note}")


async def bench_remote(
    name: str, runner: Runner, paths: list[str], runs: int, present: int
) -> tuple[float, float]:
    """The medians of one call with every path and of validation's batches."""
    timed = TimedRunner(runner)
    files = RemoteFiles(timed, timeout=300)

    def one_call() -> Awaitable[Stats]:
        timed.reset()
        return files.stat_paths(paths)

    median, times = await median_run(one_call, runs, present)
    command, calls = timed.seconds, timed.calls
    split = (
        f"\n      last run: {calls} command(s) {command:.3f} s, this process {times[-1] - command:.3f} s;"
        f" {timed.sent / 1e6:.1f} MB sent, {timed.received / 1e6:.1f} MB received"
    )
    report(f"RemoteFiles over {name}, one call", GOALS[name], median, times, split)
    batched, times = await median_run(lambda: stat_in_batches(files, paths, checksum=False), runs, present)
    report(f"RemoteFiles over {name}, validation's batches", GOALS[name], batched, times)
    await runner.close()
    return median, batched


async def bench(paths: list[str], root: Path, runs: int, present: int) -> None:
    local = await bench_remote("local", LocalRunner(), paths, runs, present)
    backend = LocalBackend("bench", root / "local-state")
    median, times = await median_run(lambda: backend.stat_paths(paths), runs, present)
    report("LocalBackend.stat_paths, one call", GOALS["local"], median, times)
    config = os.environ.get("JOBDECK_TEST_SSH_CONFIG")
    if config:
        host = os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")
        ssh = await bench_remote("ssh", SshRunner(host, config_paths=[config]), paths, runs, present)
        print(
            f"  over ssh / here: one call {ssh[0] / local[0]:.2f}x, validation's batches "
            f"{ssh[1] / local[1]:.2f}x (target 1.3x)"
        )
    else:
        print(
            "  RemoteFiles over ssh: skipped (no JOBDECK_TEST_SSH_CONFIG; source /tmp/jobdeck-cluster/env.sh)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--paths", type=int, default=100_000)
    parser.add_argument("--folders", type=int, default=100)
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="jobdeck-outputs-bench-", dir="/tmp"))
    try:
        print(f"machine  {machine()}")
        stat_version = subprocess.run(["stat", "--version"], capture_output=True, text=True).stdout
        filesystem = subprocess.run(["stat", "-f", "-c", "%T", str(root)], capture_output=True, text=True)
        print(f"tools    {stat_version.splitlines()[0]}; {root} on {filesystem.stdout.strip()}")
        started = time.perf_counter()
        paths = make_outputs(root, options.paths, options.folders)
        present = (options.paths + 1) // 2
        print(
            f"outputs  {len(paths):,} expected, {present:,} present, in {options.folders} folders "
            f"(made in {time.perf_counter() - started:.1f} s); median of {options.runs} runs after a warm-up"
        )
        asyncio.run(bench(paths, root, options.runs, present))
        bare = statistics.median(bare_command(paths) for _ in range(options.runs))
        print(f"  {'the bare command (xargs -0 stat), run here':<44} median {bare:6.3f} s")
        half = statistics.median(bare_command(paths[::2]) for _ in range(options.runs))
        print(f"  {'the same on the present half only':<44} median {half:6.3f} s")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
