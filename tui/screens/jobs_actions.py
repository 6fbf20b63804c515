"""What the jobs screen's keys do. Each calls the same engine function as its CLI twin; destructive
ones show the dry run and ask first; every failure is shown, never swallowed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from textual import work

from backends.registry import CLUSTER_KINDS
from monitor.chains import ready_stages
from monitor.controller import Controller, SubmitOutcome
from monitor.errors import JobdeckError
from monitor.mark_failed import mark_failed
from monitor.model import Job
from monitor.restart import restart, split_restartable
from monitor.resume import plan_resume, resume
from monitor.track import track
from monitor.validate_action import validate_jobs
from tui.log_wiring import log_source
from tui.screens.confirm_screen import ConfirmScreen, PromptScreen
from tui.screens.jobs_view import JobsView
from tui.screens.log_screen import LogScreen
from tui.submit_report import commands_text, submission_line


def _names(jobs: Sequence[Job], limit: int = 12) -> str:
    shown = [str(j.key) for j in jobs[:limit]]
    if len(jobs) > limit:
        shown.append(f"... and {len(jobs) - limit} more")
    return "\n".join(shown)


class JobActions(JobsView):
    """The keys of JobsScreen, on what JobsView declares."""

    # -- helpers ----------------------------------------------------------------------------

    def _acting(self, what: str) -> Controller | None:
        """The controller, when this monitor may act for the session (else why not is shown)."""
        if self.app.read_only:
            self.notify(f"read-only: {what} is disabled", severity="warning")
            return None
        if self.controller is None:
            self.notify("not connected to this session", severity="error")
            return None
        if self.lease_note:
            self.notify(f"{what} refused: {self.lease_note}", severity="warning")
            return None
        return self.controller

    def _chosen(self, what: str) -> list[Job]:
        jobs = self.selected_jobs()
        if not jobs:
            self.notify(f"{what}: no job selected", severity="warning")
        return jobs

    async def _confirm(self, title: str, body: str, label: str) -> bool:
        confirmed = await self.app.push_screen_wait(ConfirmScreen(title, body, label))
        return bool(confirmed)

    async def _guarded(self, what: str, action: Callable[[], Awaitable[None]]) -> None:
        """Run an action; a JobdeckError becomes a notification and the table is re-read."""
        try:
            await action()
        except JobdeckError as exc:
            self.notify(f"{what} failed: {exc}", severity="error", timeout=15)
        await self.reload()

    def _report(self, verb: str, outcomes: Sequence[SubmitOutcome], refused: Sequence[str] = ()) -> None:
        for o in outcomes:
            if o.ok:
                self.notify(submission_line(verb, o))
            else:
                self.notify(submission_line(verb, o), severity="error", timeout=15)
        for line in refused:
            self.notify(line, severity="warning", timeout=10)

    # -- keys -------------------------------------------------------------------------------

    def action_logs(self) -> None:
        jobs = self._chosen("logs")
        controller = self.controller
        if not jobs or controller is None:
            return
        job = jobs[0]
        if not job.attempts:
            self.notify(f"{job.key} was never submitted: no log yet", severity="warning")
            return
        self.app.push_screen(LogScreen(log_source(job, controller, self.app.store)))

    @work(group="action")
    async def action_validate(self) -> None:
        jobs = self._chosen("validate")
        controller = self.controller
        if not jobs or controller is None:
            return

        async def run() -> None:
            results = await validate_jobs(controller, jobs, force=True, progress=self.progress)
            self.progress(1, 1)
            verified = sum(r.verified for r in results)
            expected = sum(r.expected for r in results)
            changed = [f"{r.job.key}: {r.before} -> {r.after}" for r in results if r.before is not r.after]
            missing = [m for r in results for m in r.missing]
            text = f"validated {len(results)} job(s): {verified}/{expected} outputs verified"
            if changed:
                text += "\n" + "\n".join(changed[:5])
            if missing:
                text += (
                    "\nmissing: "
                    + ", ".join(missing[:3])
                    + (f" ... and {len(missing) - 3} more" if len(missing) > 3 else "")
                )
            self.notify(text, severity="warning" if missing else "information", timeout=12)

        await self._guarded("validate", run)

    @work(group="action")
    async def action_resume(self) -> None:
        jobs = self._chosen("resume")
        controller = self._acting("resume") if jobs else None
        if controller is None:
            return
        siblings = self.jobs
        plans = plan_resume(jobs, siblings)
        for plan in plans:
            if plan.refusal:
                self.notify(plan.refusal, severity="warning", timeout=10)
        runnable = [job for plan in plans if not plan.refusal for job in plan.tasks]
        if not runnable:
            return

        async def run() -> None:
            preview = await resume(controller, runnable, dry_run=True, siblings=siblings)
            body = commands_text([o for _, o in preview if o])
            if await self._confirm(f"Resume {len(runnable)} missing task(s)?", body, "Resume"):
                done = await resume(controller, runnable, siblings=siblings)
                self._report("resume", [o for _, o in done if o])

        await self._guarded("resume", run)

    @work(group="action")
    async def action_restart(self) -> None:
        jobs = self._chosen("restart")
        controller = self._acting("restart") if jobs else None
        if controller is None:
            return
        chosen, refused = split_restartable(jobs)
        for line in refused:
            self.notify(line, severity="warning", timeout=10)
        if not chosen:
            return

        async def run() -> None:
            preview, _ = await restart(controller, chosen, dry_run=True)
            if await self._confirm(
                f"Restart {len(chosen)} job(s) as a new attempt?", commands_text(preview), "Restart"
            ):
                outcomes, _ = await restart(controller, chosen)
                self._report("restart", outcomes)

        await self._guarded("restart", run)

    @work(group="action")
    async def action_cancel(self) -> None:
        jobs = self._chosen("cancel")
        controller = self._acting("cancel") if jobs else None
        if controller is None:
            return

        async def run() -> None:
            body = "\n".join(f"{j.key}  {j.state}  {j.job_id or 'not submitted'}" for j in jobs[:50])
            if len(jobs) > 50:
                body += f"\n... and {len(jobs) - 50} more"
            if await self._confirm(f"Cancel {len(jobs)} job(s)?", body, "Cancel jobs"):
                for line in await controller.cancel(jobs):
                    self.notify(line, timeout=6)
                await self.poll_once()

        await self._guarded("cancel", run)

    @work(group="action")
    async def action_mark_failed(self) -> None:
        jobs = self._chosen("mark failed")
        controller = self._acting("mark failed") if jobs else None
        if controller is None:
            return
        title = f"Mark {len(jobs)} job(s) FAILED by hand? Reason (enter to confirm, esc to cancel):\n{_names(jobs, 5)}"
        reason = await self.app.push_screen_wait(PromptScreen(title, "e.g. node died, outputs bad"))
        if not reason:
            return

        async def run() -> None:
            for line in await mark_failed(controller, jobs, reason):
                self.notify(line)

        await self._guarded("mark failed", run)

    @work(group="action")
    async def action_submit_pending(self) -> None:
        controller = self._acting("submit")
        if controller is None:
            return
        ready = {j.id for j in ready_stages(self.jobs)}
        selected = [j for j in self.selected_jobs() if j.id in ready]
        pending = selected or [j for j in self.jobs if j.id in ready]
        if not pending:
            self.notify("no job is ready to be submitted (PENDING, upstream stages done)", severity="warning")
            return

        async def run() -> None:
            preview = await controller.submit(pending, dry_run=True)
            if await self._confirm(f"Submit {len(pending)} job(s)?", commands_text(preview), "Submit"):
                self._report("submit", await controller.submit(pending))

        await self._guarded("submit", run)

    @work(group="action")
    async def action_monitor_all(self) -> None:
        controller = self._acting("monitor-all")
        if controller is None:
            return

        async def run() -> None:
            result = await track(self.app.store, self.session, CLUSTER_KINDS)
            text = f"{result.added} new job(s) registered from {result.manifest}"
            if result.never_submitted:
                text += f"; {result.never_submitted} never submitted: press s to submit them"
            self.notify(text, timeout=10)

        await self._guarded("monitor-all", run)
