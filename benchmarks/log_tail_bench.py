"""How much opening the tail of a log costs, by file size: time, bytes read and memory.

Run: .venv/bin/python benchmarks/log_tail_bench.py [--runs 7]
With JOBDECK_TEST_SSH_CONFIG set (source /tmp/jobdeck-cluster/env.sh) it also opens the 1 GB tail
through the loopback sshd, as the log view reads a remote cluster's log (read_many, one read counted
from the end), and compares it with reading the same bytes here plus one round trip to the agent on
that connection (an empty read; target: within 2x).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from monitor.log_tail import LogTail, ReadBytes, ReadChunkOf, chunk_reader
from monitor.model import ReadChunk

MB = 1024**2
LINE = b"2024-05-01 12:00:00 INFO step=%08d loss=0.1234 lr=3e-4 throughput=1234.5 samples/s\n"


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown CPU",
    )
    return f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} x {cpu}"


def rss_kb() -> int:
    """Current resident set size (VmRSS), not the peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def lines(first: int, nbytes: int) -> bytes:
    count = nbytes // len(LINE % 0)
    return b"".join(LINE % n for n in range(first, first + count))


def make_log(path: Path, size: int, real: int) -> None:
    """A file of `size` bytes whose last `real` bytes are log lines (the rest a hole: sparse)."""
    body = lines(0, real)
    with path.open("wb") as handle:
        handle.truncate(size - len(body))
        handle.seek(size - len(body))
        handle.write(body)


class CountingRead:
    def __init__(self, read: ReadBytes, read_chunk: ReadChunkOf | None = None) -> None:
        self.read = read
        self.read_chunk = read_chunk
        self.bytes = 0
        self.calls = 0

    async def __call__(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        data, size = await self.read(path, offset, limit)
        self.bytes += len(data)
        self.calls += 1
        return data, size

    async def chunk(self, path: str, offset: int, limit: int) -> ReadChunk:
        assert self.read_chunk is not None
        chunk = await self.read_chunk(path, offset, limit)
        self.bytes += len(chunk.data)
        self.calls += 1
        return chunk


async def pread(path: str, offset: int, limit: int) -> tuple[bytes, int]:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, limit, offset), os.fstat(fd).st_size
    finally:
        os.close(fd)


async def bench_open(
    read: ReadBytes, path: Path, runs: int, read_chunk: ReadChunkOf | None = None
) -> tuple[float, CountingRead, int, int]:
    """Median seconds of LogTail.open(), the reads of one run, lines shown, RSS growth (kB)."""
    times = []
    before = rss_kb()
    for _ in range(runs):
        counting = CountingRead(read, read_chunk)
        started = time.perf_counter()
        tail = LogTail(counting, str(path), read_chunk=counting.chunk if read_chunk else None)
        batch = await tail.open()
        times.append(time.perf_counter() - started)
    return statistics.median(times), counting, len(batch.lines), rss_kb() - before


async def bench_burst(path: Path, nbytes: int) -> tuple[float, int]:
    """Seconds to follow a burst of `nbytes` of new lines, and how many lines it was."""
    path.write_bytes(b"")
    tail = LogTail(pread, str(path), max_behind=nbytes * 2)
    await tail.open()
    with path.open("ab") as handle:
        handle.write(lines(0, nbytes))
    count = 0
    started = time.perf_counter()
    while True:
        batch = await tail.poll()
        count += len(batch.lines)
        if not batch.behind:
            return time.perf_counter() - started, count


def report(label: str, figures: tuple[float, CountingRead, int, int]) -> None:
    seconds, reads, shown, rss = figures
    print(
        f"{label:<28} {seconds * 1000:8.2f} ms  {reads.bytes / 1024:8.1f} KiB in {reads.calls} reads"
        f"  {shown:6d} lines  RSS +{rss:,} kB"
    )


async def main(runs: int) -> None:
    print(machine())
    print(f"median of {runs} opens of the default tail (256 KiB); RSS is VmRSS growth over all runs\n")
    with tempfile.TemporaryDirectory() as directory:
        small, big = Path(directory) / "10mb.log", Path(directory) / "1gb.log"
        make_log(small, 10 * MB, 10 * MB)
        make_log(big, 1024 * MB, 2 * MB)
        print(f"start RSS {rss_kb():,} kB")
        report("10 MB log (all lines)", await bench_open(pread, small, runs))
        here = await bench_open(pread, big, runs)
        report("1 GB log (sparse, 2 MB lines)", here)
        print(f"end RSS {rss_kb():,} kB")

        config = os.environ.get("JOBDECK_TEST_SSH_CONFIG")
        if config:
            from backends.runners.files import RemoteFiles
            from backends.runners.ssh import SshRunner

            runner = SshRunner(os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test"), config_paths=[config])
            try:
                files = RemoteFiles(runner)
                await files.read_bytes(str(big), 0, 0)  # connect once, outside the timing
                trips = []
                for _ in range(runs):
                    started = time.perf_counter()
                    await runner.read_frames(b"", 10)  # an empty request: the agent's round trip
                    trips.append(time.perf_counter() - started)
                trip = statistics.median(trips)
                remote = await bench_open(files.read_bytes, big, runs, chunk_reader(files.read_many))
                report("1 GB log over ssh (loopback)", remote)
                print(
                    f"{'  over ssh / (here + one round trip)':<28} {remote[0] * 1000:8.2f} / "
                    f"({here[0] * 1000:.2f} + {trip * 1000:.2f}) ms = {remote[0] / (here[0] + trip):.2f}x (target 2x)"
                )
            finally:
                await runner.close()

        seconds, count = await bench_burst(Path(directory) / "burst.log", 32 * MB)
        print(
            f"\nfollowing a 32 MiB burst: {count:,} lines in {seconds:.2f} s "
            f"({count / seconds:,.0f} lines/s, {32 / seconds:.0f} MiB/s, 1 MiB per poll)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args().runs))
