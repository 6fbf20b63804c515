"""The detail pane and the status bar are filled at every refresh of the jobs table: the same job
(or the same tasks, or the same status) again leaves them as they are, anything new is shown."""

from __future__ import annotations

from dataclasses import replace

from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import Static

from monitor.controller import ClusterHealth
from monitor.model import Attempt, Event, Job, JobSpec
from monitor.states import State
from tui.widgets.detail_pane import DetailPane
from tui.widgets.status_bar import StatusBar

SPEC = JobSpec("c1", "/run.sh", "/work")


def job(name: str, state: State = State.RUNNING, task: int | None = None) -> Job:
    return Job("s", name, task, "c1", state, SPEC, attempts=(Attempt(1, "41", state, start_time=10.0),))


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield DetailPane()
        yield StatusBar()


def shown(app: Host) -> str:
    console = Console(width=200, record=True)
    console.print(app.query_one("#detail-body", Static).content)
    return console.export_text()


async def test_the_same_job_events_and_outputs_leave_the_pane_as_it_is() -> None:
    app = Host()
    async with app.run_test():
        pane, body = app.query_one(DetailPane), app.query_one("#detail-body", Static)
        first = job("a")
        events = [Event(20.0, "state", "started")]
        pane.show_job(first, events, [])
        content = body.content
        pane.show_job(first, list(events), [])
        assert body.content is content
        pane.show_job(first, [*events, Event(30.0, "warning", "log stalled")], [])
        assert body.content is not content and "log stalled" in shown(app)
        pane.show_job(replace(first, state=State.FAILED), [], [])
        assert "FAILED" in shown(app)


async def test_the_same_tasks_leave_a_group_as_it_is_and_a_changed_task_shows() -> None:
    app = Host()
    async with app.run_test():
        pane, body = app.query_one(DetailPane), app.query_one("#detail-body", Static)
        tasks = [job("arr", task=i) for i in range(3)]
        pane.show_group(tasks)
        content = body.content
        pane.show_group(list(tasks))
        assert body.content is content
        tasks[2] = replace(tasks[2], state=State.FAILED)
        pane.show_group(tasks)
        assert "failed 1" in shown(app)


async def test_the_status_bar_changes_only_when_its_text_does() -> None:
    app = Host()
    async with app.run_test():
        bar = app.query_one(StatusBar)
        health = {"c1": ClusterHealth("c1", ok=True, checked_at=5.0, last_ok=5.0)}
        bar.show(health, "3 finished hidden (a)")
        content = bar.content
        bar.show(health, "3 finished hidden (a)")
        assert bar.content is content
        bar.show(health, "")
        assert "hidden" not in str(bar.content)
