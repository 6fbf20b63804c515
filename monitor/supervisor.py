"""Running a session: what `jobdeck attach` (and the app) do at every cycle.

Only the monitor holding the session's lease acts: its first cycle re-attaches (settles open
intents by their tag, searches by name for jobs resubmitted while nobody watched), every cycle
polls and applies the restart policies. A monitor without the lease reads the store and says who
holds it; when the holder stops renewing, the lease expires and another monitor takes over.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.attach import IntentVerdict, settle_intents
from monitor.chains import due_stages, gate_updates
from monitor.controller import (
    SEARCH_MARGIN,
    Controller,
    PollOutcome,
    SubmitOutcome,
    build_request,
    jobs_after,
    log_paths,
)
from monitor.errors import BackendUnavailable, SchedulerRejected
from monitor.log_copies import save_log_copies
from monitor.model import Attempt, Event, Job, JobUpdate, Lease, Submission
from monitor.policies import RestartDue, due_restarts
from monitor.protocols import SessionStorage
from monitor.states import State

MIN_LEASE = 30.0
MAX_DELAY = 60.0  # the longest wait between polls while backing off


def new_holder() -> str:
    """Who a monitor is, for the lease and for the other monitor's status bar."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def holder_is_gone(holder: str) -> bool:
    """True when the holder was a process on this machine that no longer exists (killed, crashed):
    its lease need not run out before another monitor acts."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(slots=True)
class CycleOutcome:
    lease: Lease
    acting: bool  # False: another monitor holds the lease; nothing was polled or done
    poll: PollOutcome | None = None
    intents: list[IntentVerdict] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)  # what the policies and chains did, one line each
    submitted: list[SubmitOutcome] = field(default_factory=list)  # their submissions (described, in a plan)
    warnings: list[str] = field(default_factory=list)
    took_over_from: str | None = None  # the holder whose process was gone when this cycle took its lease


class Supervisor:
    def __init__(
        self,
        controller: Controller,
        holder: str | None = None,
        interval: float | None = None,
        reattach: bool = True,
    ) -> None:
        """`reattach`: the first cycle searches every job by name and settles every open intent,
        as after an absence; a `sync` run often (from cron) continues the cycles before it instead,
        asking the scheduler no more than an attached monitor does (be kind to the controller)."""
        self.controller = controller
        self.holder = holder or new_holder()
        self.attached = not reattach
        self.interval = interval or controller.settings.poll_interval
        self.delay = self.interval

    def next_delay(self, outcome: CycleOutcome | None) -> float:
        """How long to wait before the next cycle: the interval; doubling (up to a minute) while
        a cluster does not answer; and never less than twice what the last poll took, so a slow
        scheduler is not polled back to back."""
        poll = outcome.poll if outcome is not None else None
        if outcome is not None and outcome.acting and poll is not None:
            if any(not h.ok for h in poll.health.values()):
                self.delay = min(MAX_DELAY, max(self.interval, self.delay * 2))
            else:
                slowest = max((h.seconds for h in poll.health.values()), default=0.0)
                self.delay = min(MAX_DELAY, max(self.interval, 2 * slowest))
        else:
            self.delay = self.interval
        return self.delay

    @property
    def store(self) -> SessionStorage:
        return self.controller.store

    def lease_ttl(self) -> float:
        return max(MIN_LEASE, 3 * self.controller.settings.poll_interval)

    async def cycle(self) -> CycleOutcome:
        """One whole cycle under the session's lease: settle open intents, poll, keep log copies,
        apply restart policies, submit due chain stages, and mark the cycle done in the store."""
        now = self.controller.clock()
        lease = await self.store.claim_lease(self.controller.session, self.holder, now, self.lease_ttl())
        gone = None
        if lease.holder != self.holder and holder_is_gone(lease.holder):
            gone = lease.holder
            lease = await self.store.claim_lease(
                self.controller.session, self.holder, now, self.lease_ttl(), replace=gone
            )
        if lease.holder != self.holder:
            return CycleOutcome(lease, acting=False)
        outcome = CycleOutcome(lease, acting=True, took_over_from=gone)
        outcome.intents = await self.settle_intents(outcome.warnings)
        outcome.poll = await self.controller.poll(search_all=not self.attached)
        await save_log_copies(self.controller, outcome.warnings)
        self.attached = True
        await self.apply_policies(outcome)
        await self.advance_chains(outcome)
        await self.store.record_cycle(self.controller.session, self.holder, self.controller.clock())
        return outcome

    async def plan(self) -> CycleOutcome:
        """A dry cycle: what one would change and submit, with nothing stored or sent (no lease
        is taken). Restarts are described as new submissions, without a requeue."""
        c = self.controller
        now = c.clock()
        outcome = CycleOutcome(Lease(self.holder, now, now, now), acting=True)
        outcome.poll = await c.poll(dry_run=True, search_all=not self.attached)
        jobs = jobs_after(await self.store.jobs(c.session), outcome.poll.updates)
        restarts = due_restarts([j for j in jobs if j.state is State.FAILED], now)
        stages = due_stages(jobs)
        for due in restarts:
            outcome.submitted += await c.submit([due.job], kind="restart", dry_run=True)
        outcome.submitted += await c.submit(stages, dry_run=True) if stages else []
        outcome.restarts = [f"{due.job.key}: {due.why}: would submit a new attempt" for due in restarts]
        outcome.restarts += [f"{job.key}: upstream succeeded: would submit" for job in stages]
        return outcome

    async def release(self) -> None:
        await self.store.release_lease(self.controller.session, self.holder)

    # -- intents ----------------------------------------------------------------------------

    async def settle_intents(self, warnings: list[str]) -> list[IntentVerdict]:
        """Submissions whose outcome was never recorded: found by tag means submitted, not found
        (and old enough) means never arrived and the jobs are offered again. The first cycle looks
        for every open intent; later cycles for those older than the intent grace, which no submit
        still running can own (a submit gives up long before), so an intent too young to judge at
        attach is settled once it can be, instead of leaving its jobs SUBMITTING until the next attach."""
        c = self.controller
        intents = await self.store.open_intents(c.session)
        if self.attached:
            intents = [i for i in intents if c.clock() - i.created_at >= c.settings.intent_grace]
        by_cluster: dict[str, list[Submission]] = defaultdict(list)
        for intent in intents:
            by_cluster[intent.cluster].append(intent)
        verdicts: list[IntentVerdict] = []
        for cluster, group in by_cluster.items():
            since = min(i.created_at for i in group) - SEARCH_MARGIN
            try:
                report = await c.backend(cluster).find([], [i.tag for i in group], since)
            except BackendUnavailable as exc:
                warnings.append(f"{cluster}: open submissions could not be settled: {exc}")
                continue
            verdicts += settle_intents(group, report, c.clock(), c.settings.intent_grace)
        if verdicts:
            jobs = await self.store.jobs(c.session, states=[State.SUBMITTING])
            for verdict in verdicts:
                await self._record(verdict, jobs)
        return verdicts

    async def _record(self, verdict: IntentVerdict, submitting: Sequence[Job]) -> None:
        sub = verdict.submission
        now = self.controller.clock()
        group = [j for j in submitting if j.name == sub.job_name and j.task in sub.tasks]
        if verdict.result is None:
            message = f"never reached the scheduler (no job carries its tag {sub.tag}); offered again"
            await self.store.reject_submission(
                sub.id, message, now, reason="not submitted", status="not-sent"
            )
            return
        request = build_request(group, sub.tag) if group else None
        attempts = [(job, *log_paths(request, verdict.result, job)) for job in group] if request else []
        await self.store.confirm_submission(sub.id, verdict.result, attempts, now)

    # -- chains -----------------------------------------------------------------------------

    async def advance_chains(self, outcome: CycleOutcome) -> None:
        """Say what waiting stages wait for, and submit the stages whose upstream all SUCCEEDED.
        The intent written before each submission keeps a re-attach from submitting one twice."""
        c = self.controller
        jobs = await self.store.jobs(c.session)
        await self.store.apply_updates(gate_updates(jobs, c.clock()), c.clock())
        ready = due_stages(jobs)
        for submitted in await c.submit(ready) if ready else []:
            outcome.submitted.append(submitted)
            if submitted.ok:
                outcome.restarts.append(
                    f"{submitted.job_name}: upstream succeeded; submitted as {submitted.scheduler_id}"
                )
            else:
                outcome.warnings.append(f"{submitted.job_name}: chain stage not submitted: {submitted.error}")

    # -- restart policies -------------------------------------------------------------------

    async def apply_policies(self, outcome: CycleOutcome) -> None:
        c = self.controller
        failed = await self.store.jobs(c.session, states=[State.FAILED])
        for due in due_restarts(failed, c.clock()):
            try:
                outcome.restarts.append(await self._restart(due, outcome.submitted))
            except (BackendUnavailable, SchedulerRejected) as exc:
                outcome.warnings.append(f"{due.job.key}: {due.why} could not run: {exc}")

    async def _restart(self, due: RestartDue, submitted: list[SubmitOutcome]) -> str:
        c = self.controller
        job = due.job
        backend = c.backend(job.cluster)
        requeue = getattr(backend, "requeue", None)
        note = ""
        if due.requeue and requeue is not None and job.job_id and job.id is not None:
            try:
                await requeue(job.job_id)
            except SchedulerRejected as exc:
                note = f" (requeue refused: {exc}; submitted anew)"  # the controller no longer holds it
            else:
                return await self._record_requeue(job, due.why)
        (outcome,) = await c.submit([job], kind="restart")
        submitted.append(outcome)
        if not outcome.ok:
            raise SchedulerRejected(outcome.error or "restart failed")
        new_id = outcome.task_ids.get(job.task, outcome.scheduler_id)
        return f"{job.key}: {due.why}: submitted as {new_id}{note}"

    async def _record_requeue(self, job: Job, why: str) -> str:
        c = self.controller
        now = c.clock()
        current = job.current
        assert current is not None and job.id is not None
        attempt = Attempt(
            number=current.number + 1,
            job_id=current.job_id,
            state=State.QUEUED,
            kind="requeue",
            submit_time=now,
            log_path=current.log_path,
            err_path=current.err_path,
            requeues=current.requeues + 1,
        )
        text = f"{job.state} -> QUEUED: {why}: requeued with scontrol, same ID {current.job_id}"
        event = Event(now, "requeue", text, job.state, State.QUEUED, job.key, attempt.number)
        await self.store.apply_updates(
            [JobUpdate(job.id, State.QUEUED, None, None, new_attempt=attempt, events=(event,))], now
        )
        return f"{job.key}: {why}: requeued ({current.job_id})"
