"""jobdeck's poll cycle on the real SLURM cluster, beside the bare `squeue` it makes and beside
submitit's SlurmInfoWatcher (sacct-based), for N = 100, 1,000 and 10,000 tracked array tasks.

Run: source /tmp/jobdeck-cluster/env.sh && .venv/bin/python benchmarks/poll_bench.py
     [--sizes 100,1000,10000] [--runs 7] [--transport local|ssh]
Needs the test cluster (tests/infra/cluster.sh; MaxArraySize 10001) and, for --transport ssh, the
loopback sshd (JOBDECK_TEST_SSH_CONFIG). submitit comes with the `bench` extra; it runs sacct on this
machine, so it is measured with --transport local only.

For each N a session of one array job of N tasks is registered and submitted through the controller
as `jobdeck submit` does, with `--hold` so nothing runs; every task is cancelled at the end. Then,
interleaved run by run (medians):
  bare squeue  the exact squeue argv of the poll, run alone (subprocess.run; over SSH, on the poll's
               own reused connection), output not parsed; over SSH also run here, on the cluster
               without SSH, which the SSH poll is compared with (target: within 2x)
  steady       Controller.poll() when nothing changed: store read, squeue, parse, reconcile, no write
  1% changed   the same after `scontrol hold`/`uhold` of 1% of the tasks (their reason changes):
               N/100 updates and events written in the poll's one transaction
  submitit     SlurmInfoWatcher.update() with the same N tasks registered (one sacct of the base ID)
and once: the first poll after the submission (every task's row changes) and a poll after 1% of
the tasks were cancelled (squeue, one chunked sacct for the jobs that left, then the search by name
that a job ending CANCELLED starts). "in poll" is the time of the cycle's scheduler commands (its
squeue alone in a steady or 1%-changed cycle: the commands are printed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from log_tail_bench import machine
from outputs_bench import TimedRunner

from backends.registry import load_manifest
from backends.runners.base import Runner
from backends.slurm.commands import TIME_ENV, squeue_argv
from monitor.controller import WATCHED, Controller, PollOutcome
from monitor.expand import expand_manifest
from store.session_store import SessionStore
from tui.wiring import close_controller, open_controller

CLUSTER = "lab"
T = TypeVar("T")


@dataclass
class Figures:
    bare: list[float] = field(default_factory=list)
    here: list[float] = field(default_factory=list)  # over SSH: the same squeue run here, without SSH
    steady: list[float] = field(default_factory=list)
    steady_squeue: list[float] = field(default_factory=list)
    changed: list[float] = field(default_factory=list)
    changed_squeue: list[float] = field(default_factory=list)
    submitit: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def manifest_text(session: str, size: int, folder: Path, host: str | None) -> str:
    cluster = f'[clusters.{CLUSTER}]\nbackend = "slurm"\n' + (f'host = "{host}"\n' if host else "")
    return (
        f'[session]\nname = "{session}"\n\n{cluster}\n'
        f'[[jobs]]\nname = "{session}"\ncluster = "{CLUSTER}"\nscript = "{folder}/task.sh"\n'
        f'array = "0-{size - 1}"\nargs = ["--task", "{{task}}"]\noutputs = ["out/{{task}}.txt"]\n'
        f'log = "logs/%x-%A_%a.out"\nsbatch = ["--hold"]\n'
    )


async def held_session(folder: Path, size: int, host: str | None) -> tuple[SessionStore, Controller, float]:
    """A stored session of one held array of `size` tasks, submitted; returns the submit's seconds."""
    session = f"pollbench-{size}"
    (folder / "task.sh").write_text("#!/bin/sh\necho task $2\n")
    path = folder / "bench.toml"
    path.write_text(manifest_text(session, size, folder, host))
    manifest = load_manifest(path)
    store = await SessionStore.open(folder / "jobdeck.db")
    now = time.time()
    sid = await store.ensure_session(session, str(path), manifest.to_dict(), now)
    await store.add_jobs(sid, [(d.name, d.task, d.spec) for d in expand_manifest(manifest)], now)
    controller = await open_controller(store, session)
    backend: Any = controller.backend(CLUSTER)
    backend.runner = TimedRunner(backend.runner)
    for _ in range(10):
        started = time.perf_counter()
        (outcome,) = await controller.submit(await store.jobs(session))
        if outcome.ok:
            return store, controller, time.perf_counter() - started
        print(f"      (submit failed: {outcome.error}; retrying)", file=sys.stderr)
        cancel_session(session)  # a submission whose answer was lost may have arrived
        await store.reject_submission(outcome.submission_id, "benchmark retry", time.time())  # type: ignore[arg-type]
        await asyncio.sleep(3)
    raise SystemExit("sbatch failed ten times in a row")


def cancel_session(session: str) -> None:
    """Every job of the benchmark's session (its jobs carry the session's name)."""
    subprocess.run(["scancel", f"--name={session}"], capture_output=True, timeout=60, check=False)


async def timed_poll(controller: Controller) -> tuple[float, PollOutcome, float]:
    """One poll cycle: its wall time, its outcome and the time its scheduler commands took (its
    squeue alone, when that is all it ran). A cycle the cluster did not answer (the test cluster is
    shared: another suite may restart slurmctld) is retried after a pause."""
    runner: TimedRunner = controller.backend(CLUSTER).runner  # type: ignore[attr-defined]
    for _ in range(10):
        runner.reset()
        started = time.perf_counter()
        outcome = await controller.poll()
        seconds = time.perf_counter() - started
        health = outcome.health[CLUSTER]
        if health.ok:
            return seconds, outcome, runner.seconds
        print(f"      (the cluster did not answer: {health.error}; retrying)", file=sys.stderr)
        await asyncio.sleep(2)
    raise SystemExit("the cluster did not answer ten polls in a row")


def retried(action: Callable[[], T]) -> T:
    for attempt in range(10):
        try:
            return action()
        except subprocess.CalledProcessError as exc:
            if attempt == 9:
                raise
            print(f"      ({shlex.join(map(str, exc.cmd))[:60]}... failed; retrying)", file=sys.stderr)
            time.sleep(2)
    raise AssertionError("unreachable")


def bare_squeue(argv: list[str]) -> float:
    """The poll's squeue alone, run here."""
    env = {**os.environ, **TIME_ENV}

    def run() -> float:
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=env, timeout=60, check=True)
        return time.perf_counter() - started

    return retried(run)


async def bare_squeue_over(runner: Runner, argv: list[str]) -> float:
    """The poll's squeue alone, over the poll's own SSH connection (opened and reused)."""
    for _ in range(10):
        started = time.perf_counter()
        result = await runner.run(argv, env=TIME_ENV, timeout=60)
        if result.ok:
            return time.perf_counter() - started
        print(f"      (squeue failed: {result.error_text()}; retrying)", file=sys.stderr)
        await asyncio.sleep(2)
    raise SystemExit("squeue failed ten times in a row")


def scontrol(*words: str) -> None:
    retried(lambda: subprocess.run(["scontrol", *words], capture_output=True, timeout=60, check=True))


def submitit_update(watcher: Any, size: int, patience: float = 0.0) -> float:
    """One SlurmInfoWatcher.update() (its sacct call, parse, finished checks); checks it saw every
    task, trying for up to `patience` seconds (slurmdbd records a new job a few seconds late)."""
    deadline = time.monotonic() + patience
    while True:
        started = time.perf_counter()
        watcher.update()
        seconds = time.perf_counter() - started
        states = [watcher.get_state(job_id, mode="cache") for job_id in watcher._registered]
        known = sum(1 for state in states if state != "UNKNOWN")
        if known == size:
            return seconds
        if time.monotonic() > deadline:
            raise SystemExit(f"submitit's watcher knows {known} of {size} tasks")
        time.sleep(1)


def ssh_host(transport: str) -> str | None:
    """The loopback sshd's host for --transport ssh (its ssh_config made the one jobdeck reads)."""
    if transport != "ssh":
        return None
    if not os.environ.get("JOBDECK_TEST_SSH_CONFIG"):
        raise SystemExit("--transport ssh needs JOBDECK_TEST_SSH_CONFIG: source /tmp/jobdeck-cluster/env.sh")
    os.environ["JOBDECK_SSH_CONFIG"] = os.environ["JOBDECK_TEST_SSH_CONFIG"]
    return os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")


async def measure(size: int, runs: int, transport: str) -> Figures:
    figures = Figures()
    host = ssh_host(transport)
    with tempfile.TemporaryDirectory(prefix="jobdeck-poll-bench-") as tmp:
        store, controller, submit_seconds = await held_session(Path(tmp), size, host)
        try:
            jobs = await store.jobs(controller.session)
            ids = [j.job_id for j in jobs if j.job_id]
            base = ids[0].split("_")[0]
            figures.notes.append(f"submitted {size:,} held tasks as array {base} in {submit_seconds:.2f} s")
            seconds, outcome, _ = await timed_poll(controller)
            figures.notes.append(
                f"first poll (every task's row changes): {seconds * 1000:.0f} ms, "
                f"{len(outcome.updates):,} updates, commands {list(outcome.health[CLUSTER].commands)}"
            )
            argv = squeue_argv(ids)
            figures.notes.append(f"squeue selects by {'-j with every ID' if '-j' in argv else '--me'}")
            watcher = None
            if transport == "local":
                from submitit.slurm.slurm import SlurmInfoWatcher

                watcher = SlurmInfoWatcher(delay_s=60)
                for job_id in ids:
                    watcher.register_job(job_id)
                submitit_update(watcher, size, patience=60)
            flipped = ids[::100]
            commands: set[tuple[str, ...]] = set()
            for run in range(runs + 1):  # the first round warms caches and is not counted
                counted = run > 0
                runner: TimedRunner = controller.backend(CLUSTER).runner  # type: ignore[attr-defined]
                bare = await bare_squeue_over(runner.inner, argv) if host else bare_squeue(argv)
                here = bare_squeue(argv) if host else bare
                seconds, outcome, in_poll = await timed_poll(controller)
                assert not outcome.updates, f"a steady poll found {len(outcome.updates)} changes"
                commands.add(outcome.health[CLUSTER].commands)
                scontrol("hold" if run % 2 == 0 else "uhold", ",".join(flipped))
                changed, outcome, changed_in_poll = await timed_poll(controller)
                assert len(outcome.updates) == len(flipped), f"{len(outcome.updates)} updates"
                commands.add(outcome.health[CLUSTER].commands)
                sub = submitit_update(watcher, size) if watcher is not None else None
                if counted:
                    figures.bare.append(bare)
                    figures.here.append(here)
                    figures.steady.append(seconds)
                    figures.steady_squeue.append(in_poll)
                    figures.changed.append(changed)
                    figures.changed_squeue.append(changed_in_poll)
                    if sub is not None:
                        figures.submitit.append(sub)
            figures.notes.append(f"commands per steady or 1%-changed cycle: {sorted(commands)}")
            await poll_after_cancelling(controller, flipped, figures)
        finally:
            cancel_session(controller.session)
            await close_controller(controller)
            await store.close()
    return figures


async def poll_after_cancelling(controller: Controller, cancelled: list[str], figures: Figures) -> None:
    """1% of the tasks leave the queue (they were split from the array by the holds, so accounting
    knows them one by one): the poll asks sacct about them and searches by name."""
    subprocess.run(["scancel", *cancelled], capture_output=True, timeout=60, check=True)
    await recorded_in_accounting(cancelled)
    seconds, outcome, commands = await timed_poll(controller)
    ended = sum(1 for u in outcome.updates if u.state.value == "CANCELLED")
    figures.notes.append(
        f"after cancelling 1% ({len(cancelled)}): {seconds * 1000:.0f} ms ({commands * 1000:.0f} ms in "
        f"commands), {ended} became CANCELLED, commands {list(outcome.health[CLUSTER].commands)}"
    )


async def recorded_in_accounting(job_ids: list[str], patience: float = 60.0) -> None:
    """Wait until slurmdbd has recorded every cancel (it lags a few seconds behind the controller)."""
    argv = [
        "sacct",
        "-X",
        "-n",
        "--parsable2",
        "-o",
        "JobID,State",
        "-S",
        "now-86400",
        "-j",
        ",".join(job_ids),
    ]
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        listed = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.splitlines()
        if {line.split("|")[0] for line in listed if "|CANCELLED" in line} >= set(job_ids):
            return
        await asyncio.sleep(1)
    raise SystemExit(f"accounting did not record {len(job_ids)} cancelled tasks within {patience:g} s")


def ms(values: Sequence[float]) -> float:
    return statistics.median(values) * 1000


def report(size: int, figures: Figures, runs: int) -> None:
    bare, steady, changed = ms(figures.bare), ms(figures.steady), ms(figures.changed)
    print(f"N = {size:,} held array tasks ({runs} runs, medians)")
    for note in figures.notes:
        print(f"    {note}")
    print(f"    bare squeue                           {bare:8.1f} ms")
    if figures.here != figures.bare:
        here = ms(figures.here)
        print(f"    the same squeue here, without SSH     {here:8.1f} ms")
        print(f"    jobdeck poll over SSH / squeue here:  steady {steady / here:5.2f}x, "
              f"1% changed {changed / here:5.2f}x (target 2x)")  # fmt: skip
    print(f"    jobdeck poll, steady                  {steady:8.1f} ms   {steady / bare:5.2f}x bare squeue"
          f"   (its squeue in poll {ms(figures.steady_squeue):.1f} ms)")  # fmt: skip
    print(f"    jobdeck poll, 1% changed              {changed:8.1f} ms   {changed / bare:5.2f}x bare squeue"
          f"   (its squeue in poll {ms(figures.changed_squeue):.1f} ms)")  # fmt: skip
    if figures.submitit:
        sub = ms(figures.submitit)
        print(f"    submitit SlurmInfoWatcher.update()    {sub:8.1f} ms   {sub / bare:5.2f}x bare squeue"
              f"   jobdeck steady / submitit {steady / sub:.2f}x")  # fmt: skip
    print()


def cluster_arguments(description: str, sizes: str, about: str = "") -> argparse.Namespace:
    """--sizes, --runs and --transport of a benchmark on the test cluster; prints the machine."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", default=sizes)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--transport", choices=("local", "ssh"), default="local")
    args = parser.parse_args()
    if not os.environ.get("SLURM_CONF"):
        raise SystemExit("no SLURM_CONF: source /tmp/jobdeck-cluster/env.sh")
    version = subprocess.run(["squeue", "--version"], capture_output=True, text=True, check=True).stdout
    print(machine())
    print(f"{version.strip()}, transport {args.transport}{about}")
    print(f"load average before: {loads()}\n")
    return args


def print_load_after() -> None:
    print(
        f"load average after: {loads()} ({os.cpu_count()} cpus; other work on the machine shows in every figure)"
    )


async def main() -> None:
    watched = f", watched states {sorted(s.value for s in WATCHED)}"
    args = cluster_arguments(__doc__.splitlines()[0], "100,1000,10000", watched)
    for size in (int(s) for s in args.sizes.split(",")):
        report(size, await measure(size, args.runs, args.transport), args.runs)
    print_load_after()


def loads() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


if __name__ == "__main__":
    asyncio.run(main())
