"""The detail pane of "My jobs": every fact the scheduler gave about the selected entry, whatever
columns the table shows, and an array's tasks as a whole."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from monitor.aggregate import aggregate_state
from monitor.queue import QueueEntry
from monitor.states import State
from tui.job_rows import STATE_STYLES
from tui.queue_rows import seconds_text, size_text
from tui.widgets.detail_pane import clock_text, task_lines


def _facts(entry: QueueEntry, now: float) -> list[tuple[str, str]]:
    efficiency = None if entry.cpu_efficiency is None else f"{entry.cpu_efficiency * 100:.1f}%"
    nodes = entry.nodes
    if entry.node_count is not None:
        nodes = f"{entry.node_count}" + (f" ({entry.nodes})" if entry.nodes else "")
    pairs: list[tuple[str, object]] = [
        ("scheduler state", entry.scheduler_state),
        ("reason", entry.reason),
        ("exit code", entry.exit_code),
        ("signal", entry.signal or None),
        ("array", f"{entry.array_id} task {entry.task}" if entry.array_id else None),
        ("session", entry.session),
        ("partition", entry.partition),
        ("nodes", nodes),
        ("CPUs", entry.cpus),
        ("GPUs", entry.gpus),
        ("time limit", seconds_text(entry.time_limit) or None),
        ("time left", seconds_text(entry.time_left_at(now)) or None),
        ("elapsed", seconds_text(entry.elapsed_at(now)) or None),
        ("priority", entry.priority),
        ("CPU efficiency", efficiency),
        ("MaxRSS", size_text(entry.max_rss) or None),
        ("memory asked", size_text(entry.req_mem) or None),
        ("requeued", f"{entry.requeues}x" if entry.requeues else None),
        ("submitted", clock_text(entry.submit_time) if entry.submit_time else None),
        ("started", clock_text(entry.start_time) if entry.start_time else None),
        ("ended", clock_text(entry.end_time) if entry.end_time else None),
        ("workdir", entry.workdir),
        ("stdout", entry.log_path),
        ("stderr", entry.err_path),
        ("tag", entry.tag),
    ]
    return [(label, str(value)) for label, value in pairs if value is not None]


def render_entry(entry: QueueEntry, now: float) -> RenderableType:
    head = Text.assemble(
        (entry.name, "bold"),
        "  ",
        (entry.state.value, STATE_STYLES[entry.state]),
        f"  {entry.job_id} on {entry.cluster}",
    )
    lines: list[RenderableType] = [head]
    for label, value in _facts(entry, now):
        lines.append(Text.assemble((f"{label}: ", "dim"), value))
    if entry.session is None:
        lines.append(Text("in no session: A adopts it", style="dim"))
    else:
        lines.append(Text(f"in session {entry.session}: enter opens it", style="dim"))
    return Group(*lines)


def render_array(tasks: Sequence[QueueEntry]) -> RenderableType:
    first = tasks[0]
    whole = aggregate_state(t.state for t in tasks)
    counts = Counter(t.state for t in tasks)
    lines: list[RenderableType] = [
        Text.assemble(
            (first.name, "bold"), "  ", (whole.value, STATE_STYLES[whole]),
            f"  array {first.array_id}, {len(tasks)} tasks on {first.cluster}",
        ),
        Text("  ".join(
            f"{state.value.lower()} {n}"
            for state, n in sorted(counts.items(), key=lambda kv: list(State).index(kv[0]))
        )),
    ]  # fmt: skip
    lines += task_lines([(t.task, t.state, t.job_id, t.reason) for t in tasks])
    return Group(*lines)
