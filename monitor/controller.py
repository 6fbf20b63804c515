"""The controller: the one owner of a session's state; every view (the app, the CLI) is a thin one
over it.

Every call that reaches the scheduler goes through here, so the invariants of docs/ARCHITECTURE.md
hold in one place: intent before action (the intent is written before the call), one store
transaction per poll, and absence is not evidence (a backend that does not answer changes nothing).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import compress, count
from operator import attrgetter
from typing import NamedTuple

from monitor.attach import found_by_name, searched_jobs
from monitor.errors import BackendUnavailable, InputError, NotSent, SchedulerRejected
from monitor.health import HealthCheck, HealthSettings, HealthWarning
from monitor.log_growth import log_growth_updates
from monitor.log_patterns import default_log_pattern, resolve_pattern
from monitor.markers import STREAM as MARKER_STREAM
from monitor.markers import marker_scans, scan_markers
from monitor.model import (
    TAG_PREFIX,
    AttemptPatch,
    Event,
    Job,
    JobUpdate,
    PollReport,
    SubmitRequest,
    SubmitResult,
    TaskSpec,
    apply_update,
)
from monitor.output_check import check_outputs
from monitor.poll_memory import PollMemory
from monitor.protocols import Backend, SessionStorage
from monitor.reconcile import ReconcileSettings, reconcile
from monitor.same_jobs import PerJob
from monitor.state_map import Mapper
from monitor.states import IN_SCHEDULER, TERMINAL, State
from monitor.validation import ValidationSettings


@dataclass(slots=True)
class ClusterHealth:
    """How one cluster answered its last poll: whether, when, the commands it took, and why not."""

    cluster: str
    ok: bool
    checked_at: float
    last_ok: float | None = None
    error: str | None = None
    commands: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(slots=True)
class PollOutcome:
    updates: list[JobUpdate] = field(default_factory=list)
    health: dict[str, ClusterHealth] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # about clusters and checks that could not run
    job_warnings: list[HealthWarning] = field(default_factory=list)  # about jobs (not acted upon)

    @property
    def events(self) -> list[Event]:
        return [e for u in self.updates for e in u.events]


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """One scheduler call made (or, for a dry run, described) for a group of jobs."""

    session: str
    job_name: str
    cluster: str
    tasks: tuple[int | None, ...]
    command: str
    submission_id: int | None = None
    scheduler_id: str | None = None
    task_ids: dict[int | None, str] = field(default_factory=dict)
    error: str | None = None
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class ControllerSettings:
    poll_interval: float = 5.0
    lost_grace: float = 600.0
    validate_grace: float = 30.0
    validate: bool = True  # False trusts the scheduler's COMPLETED (JOBDECK_VALIDATE=false)
    intent_grace: float = 120.0  # an intent younger than this may still be on its way to the scheduler
    health: HealthSettings = field(default_factory=HealthSettings)
    log_check_every: float = 60.0  # seconds between checks of running jobs' log sizes


WATCHED = frozenset({*IN_SCHEDULER, State.VALIDATING})
SEARCH_MARGIN = 600.0  # seconds before the earliest submit time searched, for clock skew


class Controller:
    """One session's engine: submit, poll, cancel, validate."""

    def __init__(
        self,
        store: SessionStorage,
        session: str,
        backends: Mapping[str, Backend],
        settings: ControllerSettings = ControllerSettings(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.session = session
        self.backends = dict(backends)
        self.settings = settings
        self.clock = clock
        self.health: dict[str, ClusterHealth] = {}
        self._poll_lock = asyncio.Lock()
        self._logs_checked: dict[str, float] = {}
        self._memories: dict[str, PollMemory] = {}  # by cluster
        self._health = HealthCheck()
        self._clusters: PerJob[str] = PerJob(_cluster_of, counted=True)  # of the jobs a poll reads
        self._kinds: dict[str, PerJob[Kind]] = {}  # by cluster: see _kind

    def backend(self, cluster: str) -> Backend:
        try:
            return self.backends[cluster]
        except KeyError:
            raise InputError(f"session {self.session!r} has no cluster named {cluster!r}") from None

    # -- submit -----------------------------------------------------------------------------

    async def submit(
        self, jobs: Sequence[Job], kind: str = "submit", dry_run: bool = False
    ) -> list[SubmitOutcome]:
        """Submit jobs, one scheduler call per logical job (an array's tasks go in one array job).
        The intent is written before the call and settled after it. A resume or restart is linked
        to the submission that made the jobs' current attempts."""
        outcomes = []
        for group in _group_for_submit(jobs):
            parents = {j.current.submission_id for j in group if j.current and j.current.submission_id}
            parent = max(parents) if parents and kind != "submit" else None
            outcomes.append(await self._submit_group(group, kind, dry_run, parent))
        return outcomes

    async def _submit_group(
        self, group: list[Job], kind: str, dry_run: bool, parent_id: int | None
    ) -> SubmitOutcome:
        first = group[0]
        backend = self.backend(first.cluster)
        tag = f"{TAG_PREFIX}{uuid.uuid4().hex[:12]}"
        request = build_request(group, tag)
        command = backend.describe_submit(request)
        tasks = tuple(j.task for j in group)
        if dry_run:
            return SubmitOutcome(self.session, first.name, first.cluster, tasks, command, dry_run=True)
        session_id = await self.store.session_id(self.session)
        submission_id = await self.store.record_intent(
            session_id, first.name, kind, tag, first.cluster, group, command, self.clock(), parent_id
        )
        try:
            result = await backend.submit(request)
        except (SchedulerRejected, NotSent) as exc:
            verb = "not sent" if isinstance(exc, NotSent) else "scheduler refused"
            await self.store.reject_submission(submission_id, f"{verb}: {exc}", self.clock())
            return SubmitOutcome(
                self.session, first.name, first.cluster, tasks, command, submission_id, error=str(exc)
            )
        except BackendUnavailable as exc:
            # The outcome is unknown: the intent stays open and is settled by its tag on attach.
            return SubmitOutcome(
                self.session, first.name, first.cluster, tasks, command, submission_id,
                error=f"{exc} (the submission may or may not have reached the scheduler; "
                      f"it is settled by its tag {tag} on the next attach)",
            )  # fmt: skip
        attempts = [(job, *log_paths(request, result, job)) for job in group]
        await self.store.confirm_submission(submission_id, result, attempts, self.clock())
        return SubmitOutcome(
            self.session,
            first.name,
            first.cluster,
            tasks,
            result.command,
            submission_id,
            result.job_id,
            dict(result.task_ids),
        )

    # -- poll -------------------------------------------------------------------------------

    async def poll(self, dry_run: bool = False, search_all: bool = False) -> PollOutcome:
        """One cycle: one query per cluster, reconciliation, a search by name for jobs that just
        ended CANCELLED or LOST (every such job with `search_all`), validation, log growth, and
        one store transaction. Never two at once. A dry run asks the scheduler but stores nothing."""
        async with self._poll_lock:
            return await self._poll(dry_run, search_all)

    async def _poll(self, dry_run: bool, search_all: bool) -> PollOutcome:
        jobs = await self.store.jobs(self.session, states=None if search_all else WATCHED)
        by_cluster = self._by_cluster(jobs)
        outcome = PollOutcome()
        clusters = [c for c, js in by_cluster.items() if search_all or any(j.state in WATCHED for j in js)]
        results = await asyncio.gather(*(self._poll_cluster(c, by_cluster[c], search_all) for c in clusters))
        for cluster, (updates, health, warnings, _) in zip(clusters, results, strict=True):
            outcome.updates.extend(updates)
            outcome.health[cluster] = health
            outcome.warnings.extend(warnings)
        for cluster in self.backends.keys() - set(clusters):
            now = self.clock()
            outcome.health[cluster] = self.health.get(cluster) or ClusterHealth(cluster, True, now, now)
        self.health.update(outcome.health)
        # one cluster's jobs as they will read are the session's (the same jobs, in the same order)
        after = (
            results[0][3]
            if len(results) == 1 and by_cluster[clusters[0]] is jobs
            else jobs_after(jobs, outcome.updates)
        )
        outcome.job_warnings = self._health.warnings(after, self.clock(), self.settings.health)
        if not dry_run:
            await self.store.apply_updates(outcome.updates, self.clock())
        return outcome

    def _by_cluster(self, jobs: list[Job]) -> dict[str, list[Job]]:
        self._clusters.update(jobs)
        clusters: Mapping[str, int] = self._clusters.counts or {}
        if len(clusters) == 1:
            return {next(iter(clusters)): jobs}
        by_cluster: dict[str, list[Job]] = defaultdict(list)
        for job in jobs:
            by_cluster[job.cluster].append(job)
        return by_cluster

    async def _poll_cluster(
        self, cluster: str, jobs: list[Job], search_all: bool
    ) -> tuple[list[JobUpdate], ClusterHealth, list[str], list[Job]]:
        """The cluster's updates, health and warnings, and its jobs as they read once the updates apply."""
        backend = self.backend(cluster)
        previous = self.health.get(cluster)
        started = self.clock()
        updates: list[JobUpdate] = []
        warnings: list[str] = []
        commands: list[str] = []
        unreachable: str | None = None
        mapper = backend.map_state
        memory = self._memories.setdefault(cluster, PollMemory())
        ids, since = memory.ask(jobs, started)
        if ids:
            try:
                report = await backend.poll(ids, since)
            except BackendUnavailable as exc:
                health = ClusterHealth(
                    cluster, False, started, previous.last_ok if previous else None, str(exc)
                )
                return [], health, [f"{cluster}: {exc}"], jobs
            commands += report.commands
            warnings += [f"{cluster}: {notice}" for notice in report.notices]
            updates = self._reconciled(memory, report, started, mapper)
        current = jobs_after(jobs, updates)
        ended = _ended(jobs, updates)
        searched = (
            [j for j in searched_jobs(current) if search_all or j.id in ended] if search_all or ended else []
        )
        if searched:
            try:
                found = await self._search_by_name(backend, searched, commands)
            except BackendUnavailable as exc:
                warnings.append(f"{cluster}: search for resubmitted jobs could not run: {exc}")
            else:
                updates = [
                    *updates,
                    *found_by_name(
                        searched, found, await self.store.known_scheduler_ids(), self.clock(), mapper
                    ),
                ]
                current = jobs_after(jobs, updates)
        kinds = self._kinds.setdefault(cluster, PerJob(_kind, counted=True))
        validating = (
            [job for job in current if job.state is State.VALIDATING]
            if _any(kinds, current, _VALIDATING)
            else []
        )
        if validating:
            try:
                more = await check_outputs(backend, validating, self.validation_settings(), self.clock())
            except BackendUnavailable as exc:
                warnings.append(f"{cluster}: validation could not run: {exc}")
                unreachable = str(exc)
            else:
                updates = [*updates, *more]
                current = jobs_after(jobs, updates)
        more = await self._log_growth(cluster, backend, current, kinds, warnings)
        if more:
            updates = [*updates, *more]
            current = jobs_after(jobs, updates)
        more = await self._markers(cluster, backend, jobs, current, kinds, warnings)
        if more:
            updates = [*updates, *more]
            current = jobs_after(jobs, updates)
        finished = self.clock()
        if unreachable:  # the scheduler answered, the files did not: the cluster is not healthy
            last_ok = previous.last_ok if previous else None
            health = ClusterHealth(
                cluster, False, finished, last_ok, unreachable, tuple(commands), finished - started
            )
        else:
            health = ClusterHealth(
                cluster, True, finished, finished, None, tuple(commands), finished - started
            )
        return updates, health, warnings, current

    def _reconciled(
        self, memory: PollMemory, report: PollReport, now: float, mapper: Mapper
    ) -> list[JobUpdate]:
        """reconcile() for the jobs whose stored view or observation changed since the last poll
        (see monitor.poll_memory)."""
        unsettled = memory.unsettled(report.observations)
        updates = reconcile(unsettled, report, now, mapper, ReconcileSettings(self.settings.lost_grace))
        memory.settle(updates)
        return updates

    async def _search_by_name(self, backend: Backend, jobs: Sequence[Job], commands: list[str]) -> PollReport:
        since = min((j.current.submit_time or self.clock()) for j in jobs if j.current) - SEARCH_MARGIN
        report = await backend.find(sorted({j.name for j in jobs}), [], since)
        commands += report.commands
        return report

    async def _log_growth(
        self, cluster: str, backend: Backend, jobs: list[Job], kinds: PerJob[Kind], warnings: list[str]
    ) -> list[JobUpdate]:
        """Sizes of running jobs' logs, in one batched stat at most every `log_check_every` s."""
        now = self.clock()
        if now - self._logs_checked.get(cluster, 0.0) < self.settings.log_check_every:
            return []
        if not _any(kinds, jobs, _RUNNING_WITH_LOG):
            return []
        running = [j for j in jobs if j.state is State.RUNNING and j.current and j.current.log_path]
        self._logs_checked[cluster] = now
        paths = sorted({j.current.log_path for j in running if j.current and j.current.log_path})
        try:
            stats = await backend.stat_paths(paths)
        except BackendUnavailable as exc:
            warnings.append(f"{cluster}: log sizes could not be checked: {exc}")
            return []
        return log_growth_updates(running, stats, now)

    async def _markers(
        self,
        cluster: str,
        backend: Backend,
        before: Sequence[Job],
        after: list[Job],
        kinds: PerJob[Kind],
        warnings: list[str],
    ) -> list[JobUpdate]:
        """New marker lines of running (and just finished) jobs' logs, in one batched read."""
        if not _any(kinds, after, _MARKED):
            return []
        marked = [j.id for j in after if j.spec.markers and j.id is not None]
        stored = await self.store.log_offsets(marked, MARKER_STREAM)
        scans = marker_scans(before, after, stored)
        if not scans:
            return []
        try:
            found, problems = await scan_markers(backend.read_many, scans, self.clock())
        except BackendUnavailable as exc:
            warnings.append(f"{cluster}: marker lines could not be read: {exc}")
            return []
        warnings.extend(f"{cluster}: {problem}" for problem in problems)
        return found

    def validation_settings(self) -> ValidationSettings:
        return ValidationSettings(self.settings.validate_grace, self.settings.validate)

    # -- cancel -----------------------------------------------------------------------------

    async def cancel(self, jobs: Sequence[Job]) -> list[str]:
        """Ask the scheduler to cancel; the next poll records CANCELLED. A job never submitted is
        settled at once. Returns one line per job saying what was done."""
        lines = []
        by_cluster: dict[str, list[Job]] = defaultdict(list)
        now = self.clock()
        settle = []
        for job in jobs:
            assert job.id is not None  # a job of the store
            if job.state in TERMINAL:
                lines.append(f"{job.key}: already {job.state}, nothing to cancel")
            elif job.state is State.PENDING:
                event = Event(
                    now, "cancel", "cancelled before submission", job.state, State.CANCELLED, job.key
                )
                settle.append(JobUpdate(job.id, State.CANCELLED, "cancelled by user", None, events=(event,)))
                lines.append(f"{job.key}: cancelled (never submitted)")
            elif job.job_id:
                by_cluster[job.cluster].append(job)
            else:
                lines.append(f"{job.key}: submission not settled yet; cancel it after the next attach")
        for cluster, group in by_cluster.items():
            final = set(await self.backend(cluster).cancel([j.job_id for j in group if j.job_id]) or ())
            for job in group:
                assert job.id is not None  # a job of the store
                if job.job_id in final:
                    settle.append(cancelled_for_good(job, cluster, now))
                    lines.append(f"{job.key}: cancelled on {cluster} ({job.job_id} deleted)")
                    continue
                attempt = job.current.number if job.current else None
                event = Event(
                    now, "cancel", f"cancel requested ({job.job_id})", job.state, job.state, job.key, attempt
                )
                settle.append(JobUpdate(job.id, job.state, job.reason, job.exit_code, events=(event,)))
                lines.append(f"{job.key}: cancel sent to {cluster} for {job.job_id}")
        await self.store.apply_updates(settle, now)
        return lines


def cancelled_for_good(job: Job, cluster: str, now: float) -> JobUpdate:
    """A job whose cancel the backend says is final (a deleted Kubernetes Job): no poll will ever
    see it end, so it is settled CANCELLED now."""
    assert job.id is not None
    attempt = job.current.number if job.current else None
    reason = "cancelled by user"
    event = Event(now, "cancel", f"{job.state} -> CANCELLED: {job.job_id} deleted on {cluster}", job.state,
                  State.CANCELLED, job.key, attempt)  # fmt: skip
    patch = AttemptPatch(state=State.CANCELLED, reason=reason, end_time=now)
    return JobUpdate(job.id, State.CANCELLED, reason, None, attempt=patch, events=(event,))


def log_paths(request: SubmitRequest, result: SubmitResult, job: Job) -> tuple[str | None, str | None]:
    """A job's log paths as far as submit time knows them; an array task's own raw ID (%j) comes
    with a poll."""
    resolve = partial(
        resolve_pattern,
        job_id=result.task_ids.get(None) if job.task is None else None,
        array_job_id=result.job_id if job.task is not None else None,
        task=job.task,
        name=job.name,
    )
    return resolve(request.log) if request.log else None, resolve(request.err) if request.err else None


def build_request(group: Sequence[Job], tag: str) -> SubmitRequest:
    """One scheduler call for a logical job: a plain job, or an array of exactly these tasks,
    each with its own explicit arguments."""
    first = group[0]
    spec = first.spec
    is_array = spec.array is not None
    return SubmitRequest(
        session=first.session,
        name=first.name,
        tag=tag,
        script=spec.script,
        workdir=spec.workdir,
        tasks=tuple(TaskSpec(j.task, j.spec.args) for j in group),
        is_array=is_array,
        log=spec.log or default_log_pattern(spec.workdir, is_array),
        err=spec.err,
        options=spec.options,
        extra=dict(spec.extra),
    )


def _group_for_submit(jobs: Sequence[Job]) -> list[list[Job]]:
    groups: dict[tuple[str, str], list[Job]] = defaultdict(list)
    for job in jobs:
        groups[(job.name, job.cluster)].append(job)
    return [sorted(g, key=lambda j: -1 if j.task is None else j.task) for g in groups.values()]


_ID = attrgetter("id")


def _cluster_of(job: Job) -> str:
    return job.cluster


class Kind(NamedTuple):
    """What a poll's later steps look for in a job."""

    validating: bool  # outputs to check
    running_with_log: bool  # a log whose growth is watched
    marked: bool  # log lines to scan for markers


def _kind(job: Job) -> Kind:
    attempt = job.current
    running = job.state is State.RUNNING and attempt is not None and bool(attempt.log_path)
    return Kind(job.state is State.VALIDATING, running, bool(job.spec.markers) and job.id is not None)


_VALIDATING = attrgetter("validating")
_RUNNING_WITH_LOG = attrgetter("running_with_log")
_MARKED = attrgetter("marked")


def _any(kinds: PerJob[Kind], jobs: list[Job], which: Callable[[Kind], bool]) -> bool:
    """Whether any of `jobs` is of that kind (`which` reads one field of a Kind), without a pass
    over them: `kinds` counts the kinds and derives them only for jobs that changed."""
    kinds.update(jobs)
    return any(map(which, kinds.counts or ()))


def jobs_after(jobs: list[Job], updates: Sequence[JobUpdate]) -> list[Job]:
    """Every job as it will read once `updates` apply, in order; `jobs` itself when there are none
    (a poll's lists of jobs are never changed)."""
    if not updates:
        return jobs
    result = list(jobs)
    by_id: dict[int | None, list[JobUpdate]] = defaultdict(list)
    for update in updates:
        by_id[update.job_db_id].append(update)
    # the places of the jobs that some update names, found without a Python-level loop over all jobs
    for i in compress(count(), map(by_id.__contains__, map(_ID, result))):
        job = result[i]
        for update in by_id[job.id]:
            job = apply_update(job, update)
        result[i] = job
    return result


def _ended(jobs: Sequence[Job], updates: Sequence[JobUpdate]) -> set[int]:
    """Jobs that `updates` make CANCELLED or LOST, from another state."""
    ending = [u for u in updates if u.state in (State.CANCELLED, State.LOST)]
    if not ending:
        return set()
    ids = {u.job_db_id for u in ending}
    before = {j.id: j.state for j in jobs if j.id in ids}
    return {u.job_db_id for u in ending if before.get(u.job_db_id) != u.state}
