"""The SLURM backend: sbatch, one squeue per poll, one chunked sacct for jobs that left the queue,
scontrol when accounting is off; all through a runner (this machine or one SSH connection)."""

from __future__ import annotations

import posixpath
import shlex
import time
from collections.abc import Sequence

from backends.runners.base import CommandResult, Runner
from backends.runners.files import RemoteFiles
from backends.slurm.adopter import SlurmAdopter, adopted_preamble
from backends.slurm.commands import (
    TIME_ENV,
    parse_sbatch,
    render_batch_script,
    sacct_argvs,
    sacct_find_argv,
    sbatch_argv,
    sbatch_header,
    scontrol_argv,
    squeue_argv,
    squeue_mine_argv,
)
from backends.slurm.parse import (
    is_accounting_disabled,
    is_invalid_job_id,
    parse_sacct,
    parse_scontrol,
    parse_squeue,
)
from backends.slurm.queue_lister import SlurmQueue
from backends.slurm.squeue_reader import SqueueReader
from backends.slurm.states import map_slurm
from monitor.errors import BackendUnavailable, NotSent, SchedulerRejected
from monitor.model import Observation, PathStat, PollReport, ReadChunk, SubmitRequest, SubmitResult
from monitor.queue import QueueReport

SCRIPT_HEADER_BYTES = 65536


class SlurmBackend:
    """monitor.protocols.Backend for one SLURM cluster; it can requeue (`scontrol requeue`) and list
    every job of the user (`squeue --me`, backends/slurm/queue_lister.py) and capture how a job of
    the user was submitted, for adoption (backends/slurm/adopter.py)."""

    kind = "slurm"
    map_state = staticmethod(map_slurm)
    tail_reader = None  # logs are files that stay where the job wrote them

    @property
    def requeuer(self) -> SlurmBackend:
        return self

    @property
    def queue_lister(self) -> SlurmBackend:
        return self

    @property
    def adopter(self) -> SlurmAdopter:
        return SlurmAdopter(self)

    def __init__(
        self, cluster: str, runner: Runner, *, timeout: float = 30.0, submit_timeout: float = 60.0
    ) -> None:
        self.cluster = cluster
        self.runner = runner
        self.timeout = timeout
        self.submit_timeout = submit_timeout
        self.files = RemoteFiles(runner, timeout)
        self._queue = SqueueReader()  # the polls' squeue answers, each read against the last
        self._squeue: tuple[list[str], list[str], frozenset[str]] | None = None  # see _squeue_of
        self._mine = SlurmQueue(self)  # the user's whole queue, each answer read against the last

    def describe_submit(self, request: SubmitRequest) -> str:
        script = render_batch_script(request)
        return (
            f"{adopted_preamble(request)}{shlex.join(sbatch_argv(request))} <<'EOF'\n{script.rstrip()}\nEOF"
        )

    async def submit(self, request: SubmitRequest) -> SubmitResult:
        try:
            header = await self._prepare(request)
        except NotSent:
            raise
        except BackendUnavailable as exc:
            raise NotSent(str(exc)) from exc
        script = render_batch_script(request, header)
        argv = sbatch_argv(request)
        result = await self.runner.run(argv, input=script.encode(), timeout=self.submit_timeout)
        if not result.ok:
            self.raise_if_unreachable(result, "sbatch")
            raise SchedulerRejected(f"job {request.name!r}: sbatch refused: {result.error_text()}")
        try:
            job_id = parse_sbatch(result.stdout.decode(errors="replace"))
        except ValueError as exc:
            raise SchedulerRejected(f"job {request.name!r}: unexpected sbatch answer: {exc}") from exc
        task_ids = {t.index: (f"{job_id}_{t.index}" if request.is_array else job_id) for t in request.tasks}
        return SubmitResult(job_id, task_ids, shlex.join(argv))

    async def _prepare(self, request: SubmitRequest) -> list[str]:
        """Read the script's #SBATCH header and create the log folders; nothing is sent yet."""
        head = await self.runner.run(
            ["head", "-c", str(SCRIPT_HEADER_BYTES), "--", request.script], timeout=self.timeout
        )
        if not head.ok:
            self.raise_if_unreachable(head, "head")
            raise SchedulerRejected(
                f"job {request.name!r}: cannot read script {request.script}: {head.error_text()}"
            )
        await self._make_log_dirs(request)
        return sbatch_header(head.stdout.decode(errors="replace"))

    async def _make_log_dirs(self, request: SubmitRequest) -> None:
        """SLURM fails a job whose log folder does not exist (signal 53): create it first."""
        folders = {posixpath.dirname(p) for p in (request.log, request.err) if p}
        folders = {f for f in folders if f and "%" not in f}
        if not folders:
            return
        made = await self.runner.run(["mkdir", "-p", "--", *sorted(folders)], timeout=self.timeout)
        if not made.ok:
            self.raise_if_unreachable(made, "mkdir")
            raise SchedulerRejected(
                f"job {request.name!r}: cannot create the log folder: {made.error_text()}"
            )

    async def poll(self, job_ids: Sequence[str], since: float | None) -> PollReport:
        commands: list[str] = []
        argv, wanted = self._squeue_of(job_ids)
        queue = await self.run_counted(argv, commands)
        if not queue.ok and not is_invalid_job_id(queue.stderr.decode(errors="replace")):
            self.raise_if_unreachable(queue, "squeue", force=True)
        found = self._queue.read(queue.stdout, wanted)
        left = [] if len(found) == len(wanted) else [j for j in job_ids if j not in found]
        finished_source = True
        if left:
            finished, finished_source = await self._finished(left, since, commands)
            found.update({k: v for k, v in finished.items() if k in wanted})
        return PollReport(found, tuple(commands), finished_source, tuple(self.runner.take_notices()))

    def _squeue_of(self, job_ids: Sequence[str]) -> tuple[list[str], frozenset[str]]:
        """The squeue for these IDs and their set, kept while the polls ask about the same IDs."""
        if self._squeue is None or job_ids != self._squeue[0]:
            self._squeue = (list(job_ids), squeue_argv(job_ids), frozenset(job_ids))
        return self._squeue[1], self._squeue[2]

    async def _finished(
        self, job_ids: list[str], since: float | None, commands: list[str]
    ) -> tuple[dict[str, Observation], bool]:
        """Accounting for jobs that left the queue; scontrol (what the controller still holds)
        when accounting is off or does not answer. The flag says whether absence means anything."""
        found: dict[str, Observation] = {}
        accounting_answered = True
        for argv in sacct_argvs(job_ids, since, time.time()):
            result = await self.run_counted(argv, commands)
            if result.ok:
                found.update({o.job_id: o for o in parse_sacct(result.stdout.decode(errors="replace"))})
                continue
            accounting_answered = False
            disabled = is_accounting_disabled(result.stderr.decode(errors="replace"))
            break
        if accounting_answered:
            return found, True
        held = await self.run_counted(scontrol_argv(), commands)
        if not held.ok and not is_invalid_job_id(held.stderr.decode(errors="replace")):
            self.raise_if_unreachable(held, "scontrol")
            return found, False
        for obs in parse_scontrol(held.stdout.decode(errors="replace")):
            found.setdefault(obs.job_id, obs)
        return found, disabled

    async def find(self, names: Sequence[str], tags: Sequence[str], since: float) -> PollReport:
        """One squeue of the user's jobs and one sacct bounded by `since`, filtered by name or tag.
        Accounting shows a job's comment only once it ended; the queue shows it before."""
        commands: list[str] = []
        wanted_names, wanted_tags = set(names), set(tags)

        def matches(obs: Observation) -> bool:
            return obs.name in wanted_names or (obs.tag is not None and obs.tag in wanted_tags)

        queue = await self.run_counted(squeue_mine_argv(), commands)
        if not queue.ok:
            self.raise_if_unreachable(queue, "squeue", force=True)
        found = {o.job_id: o for o in parse_squeue(queue.stdout, self._queue.known_line) if matches(o)}
        history = await self.run_counted(sacct_find_argv(names, since, time.time()), commands)
        accounting = history.ok
        if history.ok:
            for obs in parse_sacct(history.stdout.decode(errors="replace")):
                if matches(obs):
                    found.setdefault(obs.job_id, obs)
        elif not is_accounting_disabled(history.stderr.decode(errors="replace")):
            self.raise_if_unreachable(history, "sacct")
        return PollReport(found, tuple(commands), accounting)

    async def list_queue(self, history_since: float) -> QueueReport:
        """Every job of the user: one `squeue --me`, and one `sacct` when jobs left the queue."""
        return await self._mine.list_queue(history_since)

    async def cancel(self, job_ids: Sequence[str]) -> None:
        if not job_ids:
            return
        result = await self.runner.run(["scancel", *job_ids], timeout=self.timeout)
        if not result.ok:
            self.raise_if_unreachable(result, "scancel", force=True)

    async def requeue(self, job_id: str) -> None:
        result = await self.runner.run(["scontrol", "requeue", job_id], timeout=self.timeout)
        if not result.ok:
            self.raise_if_unreachable(result, "scontrol requeue")
            raise SchedulerRejected(f"scontrol requeue {job_id} refused: {result.error_text()}")

    async def stat_paths(self, paths: Sequence[str], checksum: bool = False) -> dict[str, PathStat | None]:
        return await self.files.stat_paths(paths, checksum)

    async def read_bytes(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        return await self.files.read_bytes(path, offset, limit)

    async def read_many(self, requests: Sequence[tuple[str, int, int]]) -> dict[str, ReadChunk | None]:
        return await self.files.read_many(requests)

    async def close(self) -> None:
        await self.runner.close()

    async def run_counted(
        self, argv: list[str], commands: list[str], env: dict[str, str] = TIME_ENV
    ) -> CommandResult:
        commands.append(argv[0])
        return await self.runner.run(argv, env=env, timeout=self.timeout)

    def raise_if_unreachable(self, result: CommandResult, what: str, force: bool = False) -> None:
        """A scheduler that cannot be reached (or is not installed) is BackendUnavailable: nothing
        may change state because of it. `force` treats every failure of `what` that way."""
        text = result.error_text()
        unreachable = (
            result.returncode == 127
            or "Unable to contact slurm controller" in text
            or "Socket timed out" in text
            or "Connection refused" in text
            or "Zero Bytes were transmitted" in text
        )
        if unreachable or force:
            raise BackendUnavailable(f"{self.cluster} ({self.runner.description}): {what} failed: {text}")
