"""SlurmBackend's QueueLister: the user's queue from one `squeue --me` per call, and the jobs that
finished in the window from one `sacct`, asked again only when jobs left the queue (or on the first
call, or when the window reaches further back); otherwise the last answer is reused, trimmed.

Absence is not evidence: a job that left the queue keeps its last queue entry until accounting
lists it as finished (for at most ACCOUNTING_LAG seconds, then a notice says so), and when
accounting does not answer the last finished jobs it gave are kept and the report says
`history=False`.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from backends.slurm.parse import is_accounting_disabled
from backends.slurm.queue_commands import HISTORY_ENV, history_argv, queue_argv
from backends.slurm.queue_parse import history_rows
from backends.slurm.queue_reader import QueueReader
from monitor.queue import QueueEntry, QueueReport

if TYPE_CHECKING:
    from backends.slurm.backend import SlurmBackend

ACCOUNTING_LAG = 300.0
"""Seconds a job that left the queue is awaited in accounting (slurmdbd records ends late)."""


class SlurmQueue:
    def __init__(self, backend: SlurmBackend) -> None:
        self.backend = backend
        self._reader = QueueReader(backend.cluster)
        self._queue: tuple[QueueEntry, ...] = ()
        self._queue_ids: frozenset[str] | None = None  # None before the first answer
        self._finished: dict[str, QueueEntry] = {}  # accounting's finished jobs in the window
        self._oldest_end = math.inf
        self._since: float | None = None  # the window of the last accounting answer
        self._awaited: dict[str, tuple[QueueEntry, float]] = {}  # left the queue: last entry, when
        self._paths: dict[str, tuple[str, str | None]] = {}  # log and err paths of jobs that left
        self._accounting = True
        self._disabled_said = False
        self._listed: tuple[QueueEntry, ...] | None = None  # what _entries gave, until a change
        self._rest: tuple[QueueEntry, ...] | None = None  # its jobs not in the queue

    async def list_queue(self, history_since: float) -> QueueReport:
        backend, commands, notices = self.backend, [], []
        answer = await backend.run_counted(queue_argv(), commands)
        if not answer.ok:
            backend.raise_if_unreachable(answer, "squeue", force=True)
        queue = self._reader.read(answer.stdout)
        if queue is not self._queue:
            if self._reader.same_jobs:
                self._queue, self._listed = queue, None
            else:
                self._left(queue)
        if self._since is None or history_since < self._since or self._awaited:
            await self._ask_history(history_since, commands, notices)
        elif history_since > self._since:
            self._trim(history_since)
        notices += backend.runner.take_notices()
        return QueueReport(
            backend.cluster, self._entries(), tuple(commands), self._accounting, tuple(notices)
        )

    def _left(self, queue: tuple[QueueEntry, ...]) -> None:
        """Note the jobs of the last answer that are not in this one (and those that came back)."""
        ids = frozenset(entry.job_id for entry in queue)
        if self._queue_ids is not None:
            now = time.time()
            for entry in self._queue:
                if entry.job_id not in ids:
                    self._awaited[entry.job_id] = (entry, now)
                    if entry.log_path is not None:
                        self._paths[entry.job_id] = (entry.log_path, entry.err_path)
        for job_id in [j for j in self._awaited if j in ids]:
            del self._awaited[job_id]
        self._queue, self._queue_ids, self._listed, self._rest = queue, ids, None, None

    async def _ask_history(self, since: float, commands: list[str], notices: list[str]) -> None:
        backend = self.backend
        answer = await backend.run_counted(history_argv(since, time.time()), commands, HISTORY_ENV)
        self._listed = self._rest = None
        if not answer.ok:
            self._accounting = False
            error = answer.stderr.decode(errors="replace")
            if is_accounting_disabled(error):
                self._awaited.clear()  # no source will say how they ended
                self._since = since
                if not self._disabled_said:
                    notices.append(f"{backend.cluster}: accounting is off: finished jobs are not listed")
                    self._disabled_said = True
                return
            notices.append(
                f"{backend.cluster}: sacct failed, finished jobs not updated: {answer.error_text()}"
            )  # the queue is still listed: only slurmdbd may be down
            return
        self._accounting = True
        finished = {
            e.job_id: e for e in history_rows(backend.cluster, answer.stdout.decode(errors="replace"))
        }
        self._finished = {
            job_id: self._with_paths(entry)
            for job_id, entry in finished.items()
            if entry.finished and (entry.end_time is None or entry.end_time >= since)
        }
        self._paths = {j: p for j, p in self._paths.items() if j in self._finished or j in self._awaited}
        self._oldest_end = min((e.end_time or math.inf for e in self._finished.values()), default=math.inf)
        self._since = since
        now = time.time()
        for job_id in [j for j in self._awaited if j in finished and finished[j].finished]:
            del self._awaited[job_id]  # recorded (ended before the window, maybe: then not shown)
        unknown = [j for j, (_, left_at) in self._awaited.items() if now - left_at > ACCOUNTING_LAG]
        for job_id in unknown:
            del self._awaited[job_id]
        if unknown:
            shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            notices.append(
                f"{backend.cluster}: accounting does not list job {shown} as finished "
                f"{ACCOUNTING_LAG:.0f} s after {'it' if len(unknown) == 1 else 'they'} left the queue"
            )

    def _with_paths(self, entry: QueueEntry) -> QueueEntry:
        """A finished job with the log paths the queue showed: accounting keeps none (SLURM 22.05
        has no StdOut field), so a job that ended before it was first listed has none."""
        paths = self._paths.get(entry.job_id)
        if paths is None or entry.log_path is not None:
            return entry
        return replace(entry, log_path=paths[0], err_path=paths[1])

    def _trim(self, since: float) -> None:
        """The window moved on: drop the finished jobs that ended before it."""
        self._since = since
        if since <= self._oldest_end:
            return
        self._finished = {
            j: e for j, e in self._finished.items() if e.end_time is None or e.end_time >= since
        }
        self._oldest_end = min((e.end_time or math.inf for e in self._finished.values()), default=math.inf)
        self._listed = self._rest = None

    def _entries(self) -> tuple[QueueEntry, ...]:
        """The queue, then the jobs awaited in accounting, then the finished ones not in the queue
        (a requeued job is its queue entry); the same tuple while none of the three changed."""
        if self._listed is not None:
            return self._listed
        if self._rest is None:
            ids = self._queue_ids or frozenset()
            awaited = [entry for job_id, (entry, _) in self._awaited.items() if job_id not in self._finished]
            self._rest = (*awaited, *(e for job_id, e in self._finished.items() if job_id not in ids))
        self._listed = self._queue + self._rest
        return self._listed
