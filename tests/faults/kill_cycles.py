"""Kill -9 jobdeck at seeded random moments while it submits, polls, validates, resumes and
restarts short jobs on the real SLURM cluster (directly and over SSH), and while `sync` (a whole
monitor cycle, as cron runs it) submits chain stages and applies a restart policy; then recover with
one `attach` and check that nothing was lost and nothing was submitted twice:

- `PRAGMA integrity_check` says ok;
- every scheduler job carrying a jobdeck tag (the sbatch comment "jobdeck:<hex>") is an attempt in
  the store, under the submission with that tag (none lost), and every attempt is a job accounting knows;
- no tag is on two scheduler jobs, no job has the same scheduler ID twice, and no logical task
  (session, name, task) got a job submitted before its previous one had ended (no duplicate);
- after the recovery no intent is left open and no job is left active; no command crashed.

    python tests/faults/kill_cycles.py --cycles 200 --seed 1

Needs SLURM_CONF, and JOBDECK_TEST_SSH_CONFIG for the SSH cluster (source /tmp/jobdeck-cluster/env.sh).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from fault_harness import jobdeck_command

JOBS = Path(__file__).resolve().parent / "jobs"
SEP = "\x1f"
INTENT_GRACE = 10.0  # the sessions' intent_grace: an unsettled submission older than this is judged
WEIGHTS = {"submit": 3, "submit-pending": 2, "attach": 4, "sync": 3, "validate": 2, "resume": 3, "restart": 3}
KILL_CHANCE = 0.8
# When a kill lands, in seconds after the start: the CLI needs 0.6 s to 2 s to start (more under load), so kills land
# while it starts, while it works (sbatch, polls, store writes) and after it would have finished.
HORIZON = {"attach": (0.3, 6.0), "submit": (0.3, 2.0)}
DEFAULT_HORIZON = (0.3, 1.5)
# Of the kills of commands that submit, AIMED_CHANCE land within AIMED_WINDOW seconds of the intent
# being written: while sbatch runs and before its answer is stored.
AIMED = ("submit", "submit-pending", "resume", "restart", "sync")
AIMED_CHANCE = 0.4
AIMED_WINDOW = 0.4
LIMIT = {"attach": 15.0}  # an unkilled command is stopped after this (else DEFAULT_LIMIT)
DEFAULT_LIMIT = 60.0
RECOVERY_LIMIT = 240.0
FAIL_PERCENT = "40"
JOB_SECONDS = "1"


@dataclass
class Figures:
    seed: int
    cycles: int = 0
    kills: int = 0
    intents_left_open: int = 0  # kills that struck between an intent and its confirmation
    commands: Counter[str] = field(default_factory=Counter)
    crashes: list[str] = field(default_factory=list)  # a traceback in some command's output
    sessions: int = 0
    submissions: int = 0
    attempts: int = 0
    scheduler_jobs: int = 0
    integrity: str = ""
    recovery: str = ""
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unknown_attempts: list[str] = field(default_factory=list)
    open_intents: list[str] = field(default_factory=list)
    active: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = [*self.crashes, *self.lost, *self.duplicates, *self.unknown_attempts]
        found += [f"open intent after recovery: {i}" for i in self.open_intents]
        found += [f"still active after recovery: {j}" for j in self.active]
        if self.integrity != "ok":
            found.append(f"integrity_check: {self.integrity}")
        if self.recovery != "exit 0":
            found.append(f"the recovering attach: {self.recovery}")
        return found

    def summary(self) -> str:
        commands = ", ".join(f"{name} {n}" for name, n in sorted(self.commands.items()))
        return "\n".join(
            [
                f"kill -9 cycles: {self.cycles} cycles (seed {self.seed}), {self.kills} kills "
                f"({self.intents_left_open} between an intent and its confirmation); {commands}",
                f"store: {self.sessions} sessions, {self.submissions} submissions, {self.attempts} attempts; "
                f"accounting: {self.scheduler_jobs} scheduler jobs with a jobdeck tag",
                f"integrity_check: {self.integrity}; recovery: {self.recovery}; jobs lost: {len(self.lost)}; "
                f"duplicate submissions: {len(self.duplicates)}; attempts unknown to accounting: "
                f"{len(self.unknown_attempts)}; open intents: {len(self.open_intents)}; still active: "
                f"{len(self.active)}; crashes: {len(self.crashes)}",
            ]
        )


def _toml_list(words: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{w}"' for w in words) + "]"


class KillCycles:
    """One run: a database, a work folder, lanes of cycles running side by side (each on sessions of
    its own, as a user with several terminals would), and the figures."""

    def __init__(
        self, folder: Path, seed: int, cycles: int, ssh_host: str | None, env: dict[str, str], lanes: int = 2
    ) -> None:
        self.folder = folder
        self.work = folder / "work"
        shutil.copytree(JOBS, self.work)
        self.db = folder / "state" / "jobdeck.db"
        self.log = folder / "commands.log"
        self.run_id = uuid.uuid4().hex[:6]  # names unique to this run, so accounting can be filtered
        self.names = (f"one-{self.run_id}", f"sweep-{self.run_id}", f"then-{self.run_id}")
        self.ssh_host = ssh_host
        self.env = {k: v for k, v in env.items() if not k.startswith("JOBDECK_")}
        self.env["JOBDECK_CONFIG"] = str(folder / "no-config.toml")
        if "JOBDECK_SSH_CONFIG" in env:
            self.env["JOBDECK_SSH_CONFIG"] = env["JOBDECK_SSH_CONFIG"]
        self.lanes = [
            Lane(self, i, random.Random(f"{seed}-{i}"), cycles // lanes + (i < cycles % lanes))
            for i in range(lanes)
        ]
        self.started = time.time()
        self.figures = Figures(seed)
        self.lock = threading.Lock()
        self.command = jobdeck_command()

    def rows(self, sql: str) -> list[tuple]:
        """A query on the store as it is now (read-only; nothing while it does not exist yet)."""
        if not self.db.exists():
            return []
        try:
            with closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)) as conn:
                return conn.execute(sql).fetchall()
        except sqlite3.Error:
            return []  # a database a killed submit had only begun to create

    def run(
        self, args: Sequence[str], limit: float, what: str, after: Callable[[], bool] | None = None
    ) -> str:
        """Run a jobdeck command, kill -9 it if it still runs `limit` seconds after its start (or
        after `after()` first held: a kill aimed at a moment); the outcome."""
        with tempfile.TemporaryFile() as out:
            process = subprocess.Popen(
                [self.command, "--db", str(self.db), *args],
                stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=self.work,
            )  # fmt: skip
            started = time.monotonic()
            try:
                if after is not None:
                    while (
                        process.poll() is None and not after() and time.monotonic() - started < DEFAULT_LIMIT
                    ):
                        time.sleep(0.005)
                process.wait(timeout=limit)
                outcome = f"exit {process.returncode}"
            except subprocess.TimeoutExpired:
                process.kill()  # SIGKILL
                process.wait()
                outcome = "killed"
            out.seek(0)
            output = out.read().decode(errors="replace")
        with self.lock:
            self.figures.kills += outcome == "killed"
            if "Traceback" in output:
                self.figures.crashes.append(f"{what}: jobdeck {' '.join(args)}: {output[-800:]}")
            with self.log.open("a") as log:
                elapsed = time.monotonic() - started
                log.write(f"--- {what}: jobdeck {' '.join(args)}: {outcome} after {elapsed:.2f} s\n{output}")
        return outcome

    # -- recovery and the checks ----------------------------------------------------------------

    def recover(self) -> None:
        """Once every open intent may be judged, one attach settles them and watches to the end."""
        newest = self.rows("SELECT max(created_at) FROM submissions WHERE status = 'intent'")
        if newest and newest[0][0] is not None:
            time.sleep(max(0.0, newest[0][0] + INTENT_GRACE + 1 - time.time()))
        args = ["attach", "--all", "--no-tui", "--exit-when-done", "--interval", "0.5"]
        outcome = self.run(args, RECOVERY_LIMIT, "recovery")
        self.figures.recovery = outcome
        if outcome == "killed":
            self.figures.kills -= 1  # a hang, reported as such, not one of the injected kills
            self.figures.recovery = f"did not finish within {RECOVERY_LIMIT:g} s"

    def check(self) -> None:
        f = self.figures
        f.integrity = "; ".join(r[0] for r in self.rows("PRAGMA integrity_check")) or "cannot open the store"
        f.sessions = len(self.rows("SELECT id FROM sessions"))
        submissions = self.rows(
            "SELECT sub.tag, sub.status, s.name, sub.job_name FROM submissions sub JOIN sessions s ON s.id = sub.session_id"
        )
        f.submissions = len(submissions)
        f.open_intents = [f"{s}/{name} {tag}" for tag, status, s, name in submissions if status == "intent"]
        session_of_tag = {tag: s for tag, _, s, _ in submissions}
        attempts = self.rows(
            "SELECT s.name, j.name, j.task, a.number, a.kind, a.scheduler_id, sub.tag FROM attempts a "
            "JOIN jobs j ON j.id = a.job_id JOIN sessions s ON s.id = j.session_id "
            "LEFT JOIN submissions sub ON sub.id = a.submission_id"
        )
        f.attempts = len(attempts)
        active = self.rows(
            "SELECT s.name, j.name, j.task, j.state FROM jobs j JOIN sessions s ON s.id = j.session_id "
            "WHERE j.state IN ('SUBMITTING', 'QUEUED', 'RUNNING', 'VALIDATING')"
        )
        f.active = [f"{s}/{_label(name, task)} {state}" for s, name, task, state in active]
        accounting = self.accounting({a[5] for a in attempts if a[5]})
        f.scheduler_jobs = len(accounting)
        in_store = {a[5]: a for a in attempts if a[5]}
        for job_id, (name, state, tag, _, _) in sorted(accounting.items()):
            attempt = in_store.get(job_id)
            if attempt is None:
                f.lost.append(
                    f"lost: scheduler job {job_id} ({name}, {state}, {tag or 'no tag'}) is no attempt in the store"
                )
            elif attempt[6] != tag:
                f.lost.append(f"misattributed: {job_id} carries {tag} but its attempt is under {attempt[6]}")
        for s, name, task, number, kind, job_id, _ in attempts:
            if job_id not in accounting:
                f.unknown_attempts.append(
                    f"{s}/{_label(name, task)} attempt {number} ({kind}): {job_id} unknown to accounting"
                )
        f.duplicates = self.duplicates(accounting, attempts, session_of_tag)

    def duplicates(
        self, accounting: dict[str, tuple], attempts: Sequence[tuple], session_of_tag: dict[str, str]
    ) -> list[str]:
        found = []
        bases: dict[str, set[str]] = defaultdict(set)
        for job_id, (_, _, tag, _, _) in accounting.items():
            bases[tag].add(job_id.split("_")[0])
        found += [f"duplicate: tag {tag} on jobs {sorted(ids)}" for tag, ids in bases.items() if len(ids) > 1]
        ids_per_job: dict[tuple, list[str]] = defaultdict(list)
        for s, name, task, _, kind, job_id, _ in attempts:
            if kind != "requeue":
                ids_per_job[(s, name, task)].append(job_id)
        found += [
            f"duplicate: {s}/{_label(name, task)} has scheduler ID(s) twice: {ids}"
            for (s, name, task), ids in ids_per_job.items()
            if len(set(ids)) != len(ids)
        ]
        runs: dict[tuple, list[tuple[float, float, str]]] = defaultdict(list)
        for job_id, (name, _, tag, submit, end) in accounting.items():
            _, _, task = job_id.partition("_")
            runs[(session_of_tag.get(tag), name, task)].append((submit, end, job_id))
        for (s, name, task), jobs in runs.items():
            jobs.sort()
            for (_, end, first), (submit, _, second) in itertools.pairwise(jobs):
                if submit < end:
                    found.append(f"duplicate: {s}/{name}[{task}]: {second} submitted before {first} ended")
        return found

    def accounting(self, recorded: set[str]) -> dict[str, tuple[str, str, str, float, float]]:
        """This run's jobs as accounting has them: ID -> (name, state, tag, submit, end); asked again
        (up to 30 s) while a finished job's record, or a job the store `recorded`, has not arrived
        (slurmdbd learns of a job a moment after slurmctld)."""
        window = int(time.time() - self.started) + 600
        argv = [
            "sacct", "-X", "-n", "--parsable2", f"--delimiter={SEP}", "-S", f"now-{window}",
            "--name", ",".join(self.names), "-o", "JobID,JobName,State,Comment,Submit,End",
        ]  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            result = subprocess.run(
                argv, capture_output=True, text=True, env={**self.env, "SLURM_TIME_FORMAT": "%s"}, timeout=60
            )
            if result.returncode != 0:
                raise RuntimeError(f"sacct failed: {result.stderr.strip()}")
            found = {}
            for line in result.stdout.splitlines():
                job_id, name, state, comment, submit, end = line.split(SEP)
                found[job_id] = (name, state.split()[0], comment, _epoch(submit), _epoch(end, float("inf")))
            settled = all(end != float("inf") and tag for _, _, tag, _, end in found.values())
            settled = settled and recorded <= found.keys()
            if settled or time.monotonic() > deadline:
                return found
            time.sleep(2)

    def cancel_leftovers(self) -> None:
        for name in self.names:
            subprocess.run(
                ["scancel", f"--name={name}"], env=self.env, capture_output=True, timeout=30, check=False
            )

    def run_all(self) -> Figures:
        try:
            with ThreadPoolExecutor(len(self.lanes)) as pool:
                for lane in [pool.submit(lane.run_cycles) for lane in self.lanes]:
                    lane.result()
            self.recover()
            self.check()
        finally:
            self.cancel_leftovers()
        return self.figures


class Lane:
    """Cycles run one after another on sessions of this lane's own."""

    def __init__(self, deck: KillCycles, index: int, rng: random.Random, cycles: int) -> None:
        self.deck = deck
        self.index = index
        self.rng = rng
        self.cycles = cycles
        self.manifests: list[Path] = []
        self.max_sessions = max(2, cycles // 8)
        self.seen: set[str] = set()  # open intents already counted

    def new_manifest(self) -> Path:
        """A session of one plain job (restarted by its policy when it exits 3), an array of four, one
        on each cluster (swapped every other), and a chain stage after the plain job that only a
        monitor's cycle submits."""
        deck, k = self.deck, len(self.manifests)
        clusters = ["here", "far"] if deck.ssh_host else ["here", "here"]
        if k % 2:
            clusters.reverse()
        lines = [
            "[session]",
            f'name = "kc-{deck.run_id}-{self.index}-{k}"',
            "poll_interval = 0.5",
            "validate_grace = 0",
            f"intent_grace = {INTENT_GRACE}",
            "",
            "[clusters.here]",
            'backend = "slurm"',
            f'workdir = "{deck.work}"',
        ]
        if deck.ssh_host:
            lines += [
                "",
                "[clusters.far]",
                'backend = "slurm"',
                f'host = "{deck.ssh_host}"',
                f'workdir = "{deck.work}"',
            ]
        one, sweep, then = deck.names
        lines += [
            "",
            "[[jobs]]",
            f'name = "{one}"',
            f'cluster = "{clusters[0]}"',
            'script = "flaky.sh"',
            f"args = {_toml_list(['out/{session}/{name}.txt', FAIL_PERCENT, JOB_SECONDS])}",
            'outputs = ["out/{session}/{name}.txt"]',
            'restart = { on = ["exit:3"], max_attempts = 2, backoff = 0 }',
            "",
            "[[jobs]]",
            f'name = "{then}"',
            f'cluster = "{clusters[1]}"',
            'script = "flaky.sh"',
            f'after = ["{one}"]',
            f"args = {_toml_list(['out/{session}/{name}.txt', FAIL_PERCENT, JOB_SECONDS])}",
            'outputs = ["out/{session}/{name}.txt"]',
            "",
            "[[jobs]]",
            f'name = "{sweep}"',
            f'cluster = "{clusters[1]}"',
            'script = "flaky.sh"',
            'array = "0-3"',
            f"args = {_toml_list(['out/{session}/{name}-{task}.txt', FAIL_PERCENT, JOB_SECONDS])}",
            'outputs = ["out/{session}/{name}-{task}.txt"]',
        ]
        path = deck.work / f"session-{self.index}-{k}.toml"
        path.write_text("\n".join(lines) + "\n")
        self.manifests.append(path)
        return path

    def choose(self) -> tuple[str, list[str]]:
        prefix = f"kc-{self.deck.run_id}-{self.index}-"
        jobs = [
            row
            for row in self.deck.rows(
                "SELECT s.name, j.name, j.task, j.state FROM jobs j JOIN sessions s ON s.id = j.session_id"
            )
            if row[0].startswith(prefix)
        ]
        sessions = sorted({row[0] for row in jobs})
        actions = list(WEIGHTS)
        action = self.rng.choices(actions, weights=[WEIGHTS[a] for a in actions])[0] if sessions else "submit"
        if action == "submit":
            fresh = not self.manifests or (
                len(self.manifests) < self.max_sessions and self.rng.random() < 0.5
            )
            manifest = self.new_manifest() if fresh else self.rng.choice(self.manifests)
            return action, ["submit", str(manifest), "--no-tui"]
        session = self.rng.choice(sessions)
        mine = [(name, task, state) for s, name, task, state in jobs if s == session]
        refs = [_label(name, task) for name, task, _ in mine]
        if action == "attach":
            return action, ["attach", session, "--no-tui", "--interval", "0.5", "--exit-when-done"]
        if action == "sync":  # as cron runs it: every session with work left, or one
            return action, ["sync"] if self.rng.random() < 0.5 else ["sync", "--session", session]
        if action == "submit-pending":
            return action, ["submit-pending", "--session", session]
        if action == "validate":
            force = ["--force"] if self.rng.random() < 0.3 else []
            return action, [
                "validate",
                "--session",
                session,
                *self.rng.sample(refs, min(3, len(refs))),
                *force,
            ]
        if action == "resume":
            return action, ["resume", "--session", session, self.deck.names[1]]
        failed = [ref for ref, (_, _, state) in zip(refs, mine, strict=True) if state == "FAILED"]
        return action, ["restart", "--session", session, *(failed or [self.rng.choice(refs)])]

    def run_cycles(self) -> None:
        for number in range(1, self.cycles + 1):
            action, args = self.choose()
            kill = self.rng.random() < KILL_CHANCE
            delay = self.rng.uniform(*HORIZON.get(action, DEFAULT_HORIZON))
            limit = delay if kill else LIMIT.get(action, DEFAULT_LIMIT)
            after = None
            if kill and action in AIMED and self.rng.random() < AIMED_CHANCE:
                limit = self.rng.uniform(0, AIMED_WINDOW)  # after its intent is written: sbatch, confirm
                after = self.new_intents
            outcome = self.deck.run(args, limit, f"lane {self.index} cycle {number}", after)
            opened = self.new_intents()
            self.seen |= opened
            with self.deck.lock:
                figures = self.deck.figures
                figures.cycles += 1
                figures.commands[action] += 1
                figures.intents_left_open += len(opened) if outcome == "killed" else 0

    def new_intents(self) -> set[str]:
        """Open intents of this lane's sessions not seen before: after a kill, those it left."""
        sql = (
            "SELECT sub.tag FROM submissions sub JOIN sessions s ON s.id = sub.session_id "
            f"WHERE sub.status = 'intent' AND s.name LIKE 'kc-{self.deck.run_id}-{self.index}-%'"
        )
        return {tag for (tag,) in self.deck.rows(sql)} - self.seen


def _label(name: str, task: int | None) -> str:
    return name if task is None else f"{name}[{task}]"


def _epoch(text: str, unknown: float = 0.0) -> float:
    return float(text) if text.isdigit() else unknown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--folder", type=Path, help="where the database, jobs and command log go (default: a temp dir)"
    )
    parser.add_argument("--lanes", type=int, default=2, help="cycles run side by side on separate sessions")
    parser.add_argument("--no-ssh", action="store_true", help="only the cluster on this machine")
    options = parser.parse_args()
    folder = options.folder or Path(tempfile.mkdtemp(prefix="jobdeck-kill-"))
    ssh = (
        None
        if options.no_ssh or not os.environ.get("JOBDECK_TEST_SSH_CONFIG")
        else os.environ.get("JOBDECK_TEST_SSH_HOST", "jobdeck-test")
    )
    env = dict(os.environ)
    if ssh:
        env["JOBDECK_SSH_CONFIG"] = os.environ["JOBDECK_TEST_SSH_CONFIG"]
    figures = KillCycles(folder, options.seed, options.cycles, ssh, env, options.lanes).run_all()
    print(figures.summary())
    for problem in figures.problems:
        print(f"PROBLEM: {problem}")
    print(f"(database, jobs and every command's output in {folder})")
    sys.exit(1 if figures.problems else 0)


if __name__ == "__main__":
    main()
