"""Jobs as table rows: one row per plain job, and one collapsible row per array with its tasks
beneath it. Pure (no Textual): tui.row_cache puts them in order and keeps them between refreshes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from monitor.aggregate import aggregate_state
from monitor.model import Job
from monitor.states import State
from tui.text_table import elapsed
from tui.widgets.table_model import Column, TableRow

COLUMNS = (
    Column("name", "NAME", 20),
    Column("task", "TASK", 5, "right"),
    Column("state", "STATE", 10),
    Column("reason", "REASON", 22),
    Column("attempt", "ATT", 3, "right"),
    Column("job_id", "JOB ID", 10),
    Column("elapsed", "ELAPSED", 8, "right"),
    Column("cluster", "CLUSTER", 8),
    Column("outputs", "OUTPUTS", 7, "right"),
)

STATE_STYLES = {
    State.PENDING: "grey62",
    State.SUBMITTING: "cyan",
    State.QUEUED: "bright_blue",
    State.RUNNING: "bold cyan",
    State.VALIDATING: "yellow",
    State.SUCCEEDED: "green",
    State.PARTIAL: "bold yellow",
    State.FAILED: "bold red",
    State.CANCELLED: "magenta",
    State.LOST: "bold white on red",
}

STATE_ICONS = {
    State.SUCCEEDED: "✔",
    State.FAILED: "✖",
    State.PARTIAL: "◐",
    State.RUNNING: "▶",
    State.QUEUED: "…",
    State.VALIDATING: "?",
    State.CANCELLED: "⊘",
    State.LOST: "!",
    State.PENDING: "·",
    State.SUBMITTING: "↑",
}


def job_key(job: Job) -> str:
    return str(job.key)


def group_key(job: Job) -> str:
    return f"{job.session}/{job.name}"


def _outputs(verified: int | None, expected: int) -> str:
    if not expected:
        return ""
    return f"{'-' if verified is None else verified}/{expected}"


def job_row(job: Job, key: str, now: float, parent: str | None, warning: str | None) -> TableRow:
    """A job's row under `key` (its job_key); a health warning takes the place of its reason."""
    attempt = job.current
    expected = job.outputs_expected if job.outputs_expected is not None else len(job.spec.outputs)
    stage = job.spec.stage
    label = f"{job.name} {stage[0] + 1}/{stage[1]}" if stage else job.name
    cells = (
        label,
        "" if job.task is None else str(job.task),
        job.state.value,
        f"⚠ {warning}" if warning else job.reason or "",
        str(attempt.number) if attempt else "",
        job.job_id or "",
        elapsed(job, now),
        job.cluster,
        _outputs(job.outputs_verified, expected),
    )
    return TableRow(
        key=key,
        cells=cells,
        style=STATE_STYLES[job.state],
        parent=parent,
        search_text=f"{job.name} {job.task if job.task is not None else ''} {job.state.value} {job.reason or ''}",
    )


def group_row(key: str, tasks: Sequence[Job]) -> TableRow:
    """An array's row: its aggregate state and a count of its tasks in each state."""
    first = tasks[0]
    whole = aggregate_state(j.state for j in tasks)
    counts = Counter(j.state for j in tasks)
    summary = " ".join(
        f"{STATE_ICONS[s]}{n}" for s, n in sorted(counts.items(), key=lambda kv: list(State).index(kv[0]))
    )
    verified = sum(j.outputs_verified or 0 for j in tasks)
    expected = sum(
        j.outputs_expected if j.outputs_expected is not None else len(j.spec.outputs) for j in tasks
    )
    attempts = max((j.current.number for j in tasks if j.current), default=0)
    ids = sorted({(j.job_id or "").split("_")[0] for j in tasks if j.job_id})
    cells = (
        first.name,
        f"{len(tasks)}",
        whole.value,
        summary,
        str(attempts) if attempts else "",
        ",".join(ids)[:12],
        "",
        first.cluster,
        _outputs(verified, expected),
    )
    return TableRow(
        key=key,
        cells=cells,
        style=STATE_STYLES[whole],
        search_text=f"{first.name} {whole.value} {summary}",
    )
