"""The selected job: its attempts (IDs, times, reasons, exit codes), expected and missing outputs,
and its event history."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from monitor.aggregate import aggregate_state
from monitor.model import Event, Job, OutputStatus
from monitor.states import State
from tui.job_rows import STATE_STYLES

SHOWN_MISSING = 10
SHOWN_EVENTS = 30
SHOWN_TASKS = 40


def clock_text(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%m-%d %H:%M:%S", time.localtime(epoch))


def _attempts(job: Job) -> RenderableType:
    """Newest first, two lines each: what happened, then when."""
    lines = [Text("attempts", style="bold")]
    for a in reversed(job.attempts):
        what = Text.assemble(
            (f"  #{a.number} ", "bold"),
            f"{a.kind} ",
            (a.job_id or "-", "cyan"),
            " ",
            (a.state.value, STATE_STYLES[a.state]),
            f" exit {a.exit_code}" if a.exit_code is not None else "",
            (f" {a.reason}" if a.reason else "", "italic"),
            f" (requeued {a.requeues}x)" if a.requeues else "",
        )
        when = Text(
            f"     submitted {clock_text(a.submit_time)}  started {clock_text(a.start_time)}  "
            f"ended {clock_text(a.end_time)}",
            style="dim",
        )
        lines += [what, when]
    return Group(*lines)


def _outputs(job: Job, outputs: Sequence[OutputStatus]) -> RenderableType:
    expected = len(outputs) or len(job.spec.outputs)
    if not expected:
        return Text("outputs: none declared (the scheduler's word decides)", style="dim")
    if not outputs:
        return Text(f"outputs: {expected} expected, not checked yet", style="dim")
    missing = [o for o in outputs if not o.present]
    lines = [Text(f"outputs: {expected - len(missing)}/{expected} verified", style="bold")]
    for o in missing[:SHOWN_MISSING]:
        lines.append(
            Text(f"  missing: {o.path}" + (f" ({o.problem})" if o.problem != "missing" else ""), style="red")
        )
    if len(missing) > SHOWN_MISSING:
        lines.append(Text(f"  ... and {len(missing) - SHOWN_MISSING} more", style="red"))
    return Group(*lines)


def _events(events: Sequence[Event]) -> RenderableType:
    lines = [Text("events", style="bold")]
    for e in list(events)[-SHOWN_EVENTS:]:
        style = STATE_STYLES.get(e.to_state, "") if e.to_state else ""
        lines.append(Text.assemble((f"  {clock_text(e.at)}  ", "dim"), (e.message, style)))
    return Group(*lines)


def render_detail(job: Job, events: Sequence[Event], outputs: Sequence[OutputStatus]) -> RenderableType:
    head = Text.assemble((str(job.key), "bold"), "  ", (job.state.value, STATE_STYLES[job.state]))
    if job.reason:
        head.append(f"  {job.reason}", style="italic")
    head.append(f"  on {job.cluster}")
    log = job.current.log_path if job.current else None
    parts: list[RenderableType] = [head]
    if log:
        parts.append(Text(f"log: {log}", style="dim"))
    parts += [_attempts(job), _outputs(job, outputs), _events(events)]
    return Group(*parts)


def task_lines(tasks: Sequence[tuple[int | None, State, str | None, str | None]]) -> list[RenderableType]:
    """An array's tasks, one line each (task, state, scheduler ID, reason), the first SHOWN_TASKS."""
    lines: list[RenderableType] = [Text("tasks", style="bold")]
    for task, state, job_id, reason in tasks[:SHOWN_TASKS]:
        lines.append(Text.assemble(
            f"  [{task}] ", (state.value, STATE_STYLES[state]),
            f"  {job_id or '-'}", (f"  {reason}" if reason else "", "italic"),
        ))  # fmt: skip
    if len(tasks) > SHOWN_TASKS:
        lines.append(
            Text(f"  ... and {len(tasks) - SHOWN_TASKS} more (enter expands the array)", style="dim")
        )
    return lines


def render_group(tasks: Sequence[Job]) -> RenderableType:
    """An array as a whole: its state, counts per state, outputs, and each task's line."""
    first = tasks[0]
    whole = aggregate_state(t.state for t in tasks)
    counts = Counter(t.state for t in tasks)
    verified = sum(t.outputs_verified or 0 for t in tasks)
    expected = sum(
        t.outputs_expected if t.outputs_expected is not None else len(t.spec.outputs) for t in tasks
    )
    lines: list[RenderableType] = [
        Text.assemble(
            (f"{first.session}/{first.name}", "bold"),
            "  ",
            (whole.value, STATE_STYLES[whole]),
            f"  array {first.spec.array or ''}, {len(tasks)} tasks on {first.cluster}",
        ),
        Text(
            "  ".join(
                f"{state.value.lower()} {n}"
                for state, n in sorted(counts.items(), key=lambda kv: list(State).index(kv[0]))
            )
        ),
    ]
    if expected:
        lines.append(Text(f"outputs: {verified}/{expected} verified", style="bold"))
    lines += task_lines([(t.task, t.state, t.job_id, t.reason) for t in tasks])
    return Group(*lines)


class DetailPane(VerticalScroll):
    """Scrollable; filled by the jobs screen when the cursor lands on a job, and at each refresh."""

    _source: tuple[object, ...] = ()  # what the pane shows was made from

    def compose(self) -> ComposeResult:
        yield Static(Text("no job selected", style="dim"), id="detail-body")

    def show_job(self, job: Job, events: Sequence[Event], outputs: Sequence[OutputStatus]) -> None:
        if self._fresh(("job", job, tuple(events), tuple(outputs))):
            self.query_one("#detail-body", Static).update(render_detail(job, events, outputs))

    def show_group(self, tasks: Sequence[Job]) -> None:
        if self._fresh(("group", tuple(tasks))):
            self.query_one("#detail-body", Static).update(render_group(tasks))

    def show(self, source: tuple[object, ...], render: Callable[[], RenderableType]) -> None:
        """What `render` makes, unless the pane already shows what `source` makes (see _fresh)."""
        if self._fresh(source):
            self.query_one("#detail-body", Static).update(render())

    def _fresh(self, source: tuple[object, ...]) -> bool:
        """False when the pane already shows what `source` makes (the same job object, events and
        outputs; the same task objects): showing it again would lay out and repaint the pane at
        every refresh of the table for nothing."""
        if source == self._source:
            return False
        self._source = source
        return True
