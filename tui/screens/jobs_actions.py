"""What the jobs screen's keys do. Each calls the same engine function as its CLI twin; destructive
ones show the dry run and ask first; every failure is shown, never swallowed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from textual import work

from backends.registry import CLUSTER_KINDS
from monitor.chains import ready_stages
from monitor.controller import SubmitOutcome
from monitor.errors import JobdeckError
from monitor.mark_failed import mark_failed
from monitor.model import Job
from monitor.restart import restart, split_restartable
from monitor.resume import plan_resume, resume
from monitor.track import track
from monitor.validate_action import validate_jobs
from tui.log_wiring import log_source
from tui.screens.confirm_screen import ConfirmScreen, PromptScreen
from tui.screens.log_screen import LogScreen
from tui.submit_report import commands_text, submission_line


def _names(jobs: Sequence[Job], limit: int = 12) -> str:
    shown = [str(j.key) for j in jobs[:limit]]
    if len(jobs) > limit:
        shown.append(f"... and {len(jobs) - limit} more")
    return "\n".join(shown)


class JobActions:
    """Mixed into JobsScreen; relies on its controller, selected_jobs(), reload() and notify()."""

    controller: object
    session: str

    # -- helpers ----------------------------------------------------------------------------

    def _can_act(self, what: str) -> bool:
        if self.app.read_only:  # type: ignore[attr-defined]
            self.notify(f"read-only: {what} is disabled", severity="warning")  # type: ignore[attr-defined]
            return False
        if self.controller is None:
            self.notify("not connected to this session", severity="error")  # type: ignore[attr-defined]
            return False
        if self.lease_note:  # type: ignore[attr-defined]
            self.notify(f"{what} refused: {self.lease_note}", severity="warning")  # type: ignore[attr-defined]
            return False
        return True

    def _chosen(self, what: str) -> list[Job]:
        jobs = self.selected_jobs()  # type: ignore[attr-defined]
        if not jobs:
            self.notify(f"{what}: no job selected", severity="warning")  # type: ignore[attr-defined]
        return jobs

    async def _confirm(self, title: str, body: str, label: str) -> bool:
        return bool(await self.app.push_screen_wait(ConfirmScreen(title, body, label)))  # type: ignore[attr-defined]

    async def _guarded(self, what: str, action: Callable[[], Awaitable[None]]) -> None:
        """Run an action; a JobdeckError becomes a notification and the table is re-read."""
        try:
            await action()
        except JobdeckError as exc:
            self.notify(f"{what} failed: {exc}", severity="error", timeout=15)  # type: ignore[attr-defined]
        await self.reload()  # type: ignore[attr-defined]

    def _report(self, verb: str, outcomes: Sequence[SubmitOutcome], refused: Sequence[str] = ()) -> None:
        for o in outcomes:
            if o.ok:
                self.notify(submission_line(verb, o))  # type: ignore[attr-defined]
            else:
                self.notify(submission_line(verb, o), severity="error", timeout=15)  # type: ignore[attr-defined]
        for line in refused:
            self.notify(line, severity="warning", timeout=10)  # type: ignore[attr-defined]

    # -- keys -------------------------------------------------------------------------------

    def action_logs(self) -> None:
        jobs = self._chosen("logs")
        if not jobs or self.controller is None:
            return
        job = jobs[0]
        if not job.attempts:
            self.notify(f"{job.key} was never submitted: no log yet", severity="warning")  # type: ignore[attr-defined]
            return
        self.app.push_screen(LogScreen(log_source(job, self.controller, self.app.store)))  # type: ignore[attr-defined]

    @work(group="action")
    async def action_validate(self) -> None:
        jobs = self._chosen("validate")
        if not jobs or self.controller is None:
            return

        async def run() -> None:
            results = await validate_jobs(self.controller, jobs, force=True, progress=self.progress)  # type: ignore[arg-type,attr-defined]
            self.progress(1, 1)  # type: ignore[attr-defined]
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
            self.notify(text, severity="warning" if missing else "information", timeout=12)  # type: ignore[attr-defined]

        await self._guarded("validate", run)

    @work(group="action")
    async def action_resume(self) -> None:
        jobs = self._chosen("resume")
        if not jobs or not self._can_act("resume"):
            return
        siblings = self.jobs  # type: ignore[attr-defined]
        plans = plan_resume(jobs, siblings)
        for plan in plans:
            if plan.refusal:
                self.notify(plan.refusal, severity="warning", timeout=10)  # type: ignore[attr-defined]
        runnable = [job for plan in plans if not plan.refusal for job in plan.tasks]
        if not runnable:
            return

        async def run() -> None:
            preview = await resume(self.controller, runnable, dry_run=True, siblings=siblings)  # type: ignore[arg-type]
            body = commands_text([o for _, o in preview if o])
            if await self._confirm(f"Resume {len(runnable)} missing task(s)?", body, "Resume"):
                done = await resume(self.controller, runnable, siblings=siblings)  # type: ignore[arg-type]
                self._report("resume", [o for _, o in done if o])

        await self._guarded("resume", run)

    @work(group="action")
    async def action_restart(self) -> None:
        jobs = self._chosen("restart")
        if not jobs or not self._can_act("restart"):
            return
        chosen, refused = split_restartable(jobs)
        for line in refused:
            self.notify(line, severity="warning", timeout=10)  # type: ignore[attr-defined]
        if not chosen:
            return

        async def run() -> None:
            preview, _ = await restart(self.controller, chosen, dry_run=True)  # type: ignore[arg-type]
            if await self._confirm(
                f"Restart {len(chosen)} job(s) as a new attempt?", commands_text(preview), "Restart"
            ):
                outcomes, _ = await restart(self.controller, chosen)  # type: ignore[arg-type]
                self._report("restart", outcomes)

        await self._guarded("restart", run)

    @work(group="action")
    async def action_cancel(self) -> None:
        jobs = self._chosen("cancel")
        if not jobs or not self._can_act("cancel"):
            return

        async def run() -> None:
            body = "\n".join(f"{j.key}  {j.state}  {j.job_id or 'not submitted'}" for j in jobs[:50])
            if len(jobs) > 50:
                body += f"\n... and {len(jobs) - 50} more"
            if await self._confirm(f"Cancel {len(jobs)} job(s)?", body, "Cancel jobs"):
                for line in await self.controller.cancel(jobs):  # type: ignore[attr-defined]
                    self.notify(line, timeout=6)  # type: ignore[attr-defined]
                await self.poll_once()  # type: ignore[attr-defined]

        await self._guarded("cancel", run)

    @work(group="action")
    async def action_mark_failed(self) -> None:
        jobs = self._chosen("mark failed")
        if not jobs or not self._can_act("mark failed"):
            return
        title = f"Mark {len(jobs)} job(s) FAILED by hand? Reason (enter to confirm, esc to cancel):\n{_names(jobs, 5)}"
        reason = await self.app.push_screen_wait(PromptScreen(title, "e.g. node died, outputs bad"))  # type: ignore[attr-defined]
        if not reason:
            return

        async def run() -> None:
            for line in await mark_failed(self.controller, jobs, reason):  # type: ignore[arg-type]
                self.notify(line)  # type: ignore[attr-defined]

        await self._guarded("mark failed", run)

    @work(group="action")
    async def action_submit_pending(self) -> None:
        if not self._can_act("submit"):
            return
        ready = {j.id for j in ready_stages(self.jobs)}  # type: ignore[attr-defined]
        selected = [j for j in self.selected_jobs() if j.id in ready]  # type: ignore[attr-defined]
        pending = selected or [j for j in self.jobs if j.id in ready]  # type: ignore[attr-defined]
        if not pending:
            self.notify("no job is ready to be submitted (PENDING, upstream stages done)", severity="warning")  # type: ignore[attr-defined]
            return

        async def run() -> None:
            preview = await self.controller.submit(pending, dry_run=True)  # type: ignore[attr-defined]
            if await self._confirm(f"Submit {len(pending)} job(s)?", commands_text(preview), "Submit"):
                self._report("submit", await self.controller.submit(pending))  # type: ignore[attr-defined]

        await self._guarded("submit", run)

    @work(group="action")
    async def action_monitor_all(self) -> None:
        if not self._can_act("monitor-all"):
            return

        async def run() -> None:
            result = await track(self.app.store, self.session, CLUSTER_KINDS)  # type: ignore[attr-defined]
            text = f"{result.added} new job(s) registered from {result.manifest}"
            if result.never_submitted:
                text += f"; {result.never_submitted} never submitted: press s to submit them"
            self.notify(text, timeout=10)  # type: ignore[attr-defined]

        await self._guarded("monitor-all", run)
