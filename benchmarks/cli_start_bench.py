"""How long the read commands scripts call in loops take, beside Python importing what they must.

Run: .venv/bin/python benchmarks/cli_start_bench.py [--runs 21]
The console script `jobdeck` (next to this Python) runs `list --json` and `status JOB --json` on a
small database (one session of ten finished jobs on the local backend, made first with `submit`),
alternating run by run with `python -c 'import click, sqlite3, json, asyncio'`; medians of wall
time, and each command's ratio to that floor (target: within 2x). No cluster needed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from log_tail_bench import machine

FLOOR = [sys.executable, "-c", "import click, sqlite3, json, asyncio"]


def jobdeck() -> str:
    beside = Path(sys.executable).parent / "jobdeck"
    if not beside.exists():
        raise SystemExit(f"no console script at {beside}: pip install -e .")
    return str(beside)


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env, timeout=60)
    return time.perf_counter() - started


def small_database(folder: Path, env: dict[str, str]) -> Path:
    """A session "bench" of ten `true` jobs on the local backend, submitted and settled."""
    db = folder / "jobdeck.db"
    jobs = "".join(f'\n[[jobs]]\nname = "job{k}"\nscript = "/bin/true"\n' for k in range(10))
    manifest = folder / "bench.toml"
    manifest.write_text(
        f'[session]\nname = "bench"\n\n[clusters.here]\nbackend = "local"\nworkdir = "{folder}"\n{jobs}'
    )
    subprocess.run([jobdeck(), "--db", str(db), "submit", str(manifest), "--no-tui"], check=True, env=env)
    time.sleep(1)
    subprocess.run([jobdeck(), "--db", str(db), "sync"], check=True, env=env, capture_output=True)
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
    print(machine())
    with tempfile.TemporaryDirectory(prefix="jobdeck-cli-bench-") as tmp:
        db = small_database(Path(tmp), env)
        commands = {
            "jobdeck list --json": [jobdeck(), "--db", str(db), "list", "--json"],
            "jobdeck status bench/job3 --json": [
                jobdeck(),
                "--db",
                str(db),
                "status",
                "bench/job3",
                "--json",
            ],
        }
        times: dict[str, list[float]] = {"floor": [], **{name: [] for name in commands}}
        for run in range(runs + 1):  # the first round warms the page cache and is not counted
            for name, argv in [("floor", FLOOR), *commands.items()]:
                seconds = timed(argv, env)
                if run:
                    times[name].append(seconds)
    floor = statistics.median(times["floor"])
    print(f"median of {runs} runs, alternating; load average {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(f"  {'python -c import click, sqlite3, json, asyncio':<44} {floor * 1000:7.1f} ms")
    for name in commands:
        median = statistics.median(times[name])
        print(f"  {name:<44} {median * 1000:7.1f} ms  {median / floor:5.2f}x (target 2x)")


if __name__ == "__main__":
    main()
