"""The user's queue ("My jobs", `jobdeck queue`) on the real SLURM cluster beside the bare
`squeue --me` it runs, with N held array tasks of the user in the queue (issue 15: within 1.5x).

Run: source /tmp/jobdeck-cluster/env.sh && .venv/bin/python benchmarks/queue_bench.py
     [--sizes 10000] [--runs 7] [--transport local|ssh]
Needs the test cluster (MaxArraySize 10001) and, for --transport ssh, the loopback sshd
(JOBDECK_TEST_SSH_CONFIG). One array of N tasks is submitted with plain sbatch and `--hold`, so
nothing runs, and cancelled at the end. Then, interleaved run by run (medians):
  bare squeue  the listing's exact `squeue --me` argv, run alone (over SSH, on the listing's own
               reused connection; then also here, without SSH), output not parsed
  steady       SlurmBackend.list_queue() when nothing changed
  1% changed   the same after `scontrol hold`/`uhold` of 1% of the tasks (their reason changes)
and once: the first listing (every line parsed, and the sacct of the window). The queue is shared
with other suites: their jobs are in it too, and when one leaves the queue the listing asks sacct
(the commands of every counted listing are printed).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from poll_bench import (
    bare_squeue,
    bare_squeue_over,
    cluster_arguments,
    ms,
    print_load_after,
    retried,
    scontrol,
    ssh_host,
)

from backends.slurm.backend import SlurmBackend
from backends.slurm.cluster import SlurmCluster
from backends.slurm.queue_commands import queue_argv
from monitor.queue import QueueReport

HISTORY_SECONDS = 24 * 3600.0


@dataclass
class Figures:
    bare: list[float] = field(default_factory=list)
    here: list[float] = field(default_factory=list)  # over SSH: the same squeue run here, without SSH
    steady: list[float] = field(default_factory=list)
    changed: list[float] = field(default_factory=list)
    commands: Counter[tuple[str, ...]] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


def submit_held_array(size: int, name: str) -> str:
    argv = ["sbatch", "--parsable", "--hold", f"--job-name={name}", f"--array=0-{size - 1}",
            "--output=/dev/null", "--wrap", "true"]  # fmt: skip
    answer = retried(lambda: subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True))
    return answer.stdout.strip().split(";")[0]


async def timed_listing(backend: SlurmBackend, size: int, base: str) -> tuple[float, QueueReport]:
    """One listing, checked to hold every task of the array; retried when the cluster (shared:
    another suite may restart it) does not answer."""
    for _ in range(10):
        started = time.perf_counter()
        try:
            report = await backend.list_queue(time.time() - HISTORY_SECONDS)
        except Exception as exc:  # BackendUnavailable or a dropped connection: said, then retried
            print(f"      (the listing failed: {exc}; retrying)", file=sys.stderr)
            await asyncio.sleep(2)
            continue
        seconds = time.perf_counter() - started
        mine = sum(1 for entry in report.entries if entry.array_id == base)
        if mine != size:
            raise SystemExit(f"the listing holds {mine} of the {size} tasks of array {base}")
        return seconds, report
    raise SystemExit("the listing failed ten times in a row")


async def measure(size: int, runs: int, transport: str) -> Figures:
    figures = Figures()
    host = ssh_host(transport)
    backend = SlurmBackend("lab", SlurmCluster(name="lab", host=host).runner())
    name = f"queuebench-{uuid.uuid4().hex[:8]}"
    base = submit_held_array(size, name)
    try:
        figures.notes.append(f"submitted {size:,} held tasks as array {base}")
        seconds, report = await timed_listing(backend, size, base)
        figures.notes.append(
            f"first listing (every line parsed, accounting asked): {seconds * 1000:.0f} ms, "
            f"{len(report.entries):,} entries, commands {list(report.commands)}"
        )
        argv = queue_argv()
        flipped = ",".join(f"{base}_{task}" for task in range(0, size, 100))
        for run in range(runs + 1):  # the first round warms caches and is not counted
            bare = await bare_squeue_over(backend.runner, argv) if host else bare_squeue(argv)
            here = bare_squeue(argv) if host else bare
            steady, report = await timed_listing(backend, size, base)
            figures.commands[report.commands] += run > 0
            scontrol("hold" if run % 2 == 0 else "uhold", flipped)
            changed, report = await timed_listing(backend, size, base)
            figures.commands[report.commands] += run > 0
            if run > 0:
                figures.bare.append(bare)
                figures.here.append(here)
                figures.steady.append(steady)
                figures.changed.append(changed)
    finally:
        subprocess.run(["scancel", f"--name={name}"], capture_output=True, timeout=120, check=False)
        await backend.close()
    return figures


def report(size: int, figures: Figures, runs: int) -> None:
    bare, steady, changed = ms(figures.bare), ms(figures.steady), ms(figures.changed)
    print(f"N = {size:,} held array tasks of the user ({runs} runs, medians)")
    for note in figures.notes:
        print(f"    {note}")
    calls = ", ".join(f"{list(c)} x{n}" for c, n in figures.commands.most_common() if n)
    print(f"    commands of the counted listings: {calls}")
    print(f"    bare squeue --me                      {bare:8.1f} ms")
    if figures.here != figures.bare:
        here = ms(figures.here)
        print(f"    the same squeue here, without SSH     {here:8.1f} ms")
        print(
            f"    list_queue over SSH / squeue here:    steady {steady / here:5.2f}x, 1% changed {changed / here:5.2f}x"
        )
    print(f"    list_queue, steady                    {steady:8.1f} ms   {steady / bare:5.2f}x bare squeue")
    print(
        f"    list_queue, 1% changed                {changed:8.1f} ms   {changed / bare:5.2f}x bare squeue (target 1.5x)"
    )
    print()


async def main() -> None:
    args = cluster_arguments(__doc__.splitlines()[0], "10000")
    for size in (int(s) for s in args.sizes.split(",")):
        report(size, await measure(size, args.runs, args.transport), args.runs)
    print_load_after()


if __name__ == "__main__":
    asyncio.run(main())
