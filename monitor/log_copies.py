"""Copies of finished pods' logs, kept in the store while a monitor is online: Kubernetes deletes
pods (ttlSecondsAfterFinished, node drains) and their logs with them. The last COPY_LINES lines of
each finished attempt's log are read once, in one call per pod; a reader of the log is given the
copy when the pod is gone. Backends whose logs stay where they are (files) have no `tail_reader` and are skipped.
"""

from __future__ import annotations

from monitor.controller import Controller
from monitor.errors import BackendUnavailable

COPY_LINES = 1000
PER_CYCLE = 50  # copies taken per supervisor cycle at most: a re-attach to many finished pods is spread out
STREAM = "stdout"  # a container's log holds both streams


async def save_log_copies(controller: Controller, warnings: list[str], limit: int = PER_CYCLE) -> int:
    """Copy the logs of attempts that finished since the last cycle; returns how many were saved.
    A pod already gone is recorded as such (and never asked about again); a cluster that does not
    answer is skipped until the next cycle, with a warning."""
    store = controller.store
    readers = {
        name: reader for name, b in controller.backends.items() if (reader := b.tail_reader) is not None
    }
    if not readers:
        return 0
    unreachable: set[str] = set()
    saved = 0
    for attempt_id, cluster, path in await store.log_copies_due(controller.session, sorted(readers), limit):
        if cluster in unreachable:
            continue
        try:
            data: bytes | None = await readers[cluster].read_tail(path, COPY_LINES)
        except FileNotFoundError:
            data = None
        except BackendUnavailable as exc:
            warnings.append(f"{cluster}: logs of finished pods could not be copied: {exc}")
            unreachable.add(cluster)
            continue
        await store.save_log_copy(attempt_id, STREAM, data, controller.clock())
        saved += 1
    return saved
