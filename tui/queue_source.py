"""The user's queue on every cluster, for "My jobs" and `jobdeck queue`: one listing per cluster
per refresh (all clusters at once, each with its own timeout), each job named by the session it
belongs to. A cluster that does not answer keeps its last entries and is reported, never hidden."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from monitor.errors import BackendUnavailable, JobdeckError
from monitor.manifest import ClusterConfig
from monitor.protocols import Backend
from monitor.queue import QueueEntry, QueueReport
from store.session_store import SessionStore

LIST_TIMEOUT = 60.0
"""The longest one cluster's listing may take (its commands have their own, shorter, timeouts)."""


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """Every cluster's entries after one refresh, in cluster order, with what went wrong where."""

    entries: tuple[QueueEntry, ...]
    errors: dict[str, str] = field(default_factory=dict)  # cluster -> one line
    reports: dict[str, QueueReport] = field(default_factory=dict)  # the clusters that answered
    at: float = 0.0
    store_error: str | None = None  # why the jobs could not be named by their sessions


class QueueFeed(Protocol):
    """What "My jobs" reads the queue from: a QueueSource, or fixed entries in its tests."""

    clusters: dict[str, ClusterConfig]
    backends: dict[str, Backend]

    async def refresh(self, history_hours: float, only: Sequence[str] | None = None) -> QueueSnapshot: ...

    def forget_sessions(self) -> None: ...

    async def close(self) -> None: ...


class QueueSource:
    """Backends opened once (connections reused between refreshes) for the listed clusters."""

    def __init__(
        self,
        clusters: Mapping[str, ClusterConfig],
        store: SessionStore | None,
        local_state: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clusters = dict(clusters)
        self.store = store
        self.clock = clock
        self.backends: dict[str, Backend] = {
            name: cluster.open_backend(local_state, None) for name, cluster in self.clusters.items()
        }
        self._last: dict[str, tuple[QueueEntry, ...]] = {}
        self._sessions: dict[str, list[tuple[str, str]]] = {}  # scheduler ID -> (session, cluster)
        self._asked: set[str] = set()
        self._named: dict[str, tuple[QueueEntry, QueueEntry]] = {}  # key -> (as listed, as named)

    async def refresh(self, history_hours: float, only: Sequence[str] | None = None) -> QueueSnapshot:
        """List every cluster (or `only` these) once, all at once."""
        now = self.clock()
        names = [n for n in self.backends if only is None or n in only]
        results = await asyncio.gather(*(self._list(n, now - history_hours * 3600) for n in names))
        errors: dict[str, str] = {}
        reports: dict[str, QueueReport] = {}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, QueueReport):
                reports[name] = result
                self._last[name] = result.entries
            else:
                errors[name] = result
        entries = [e for n in names for e in self._last.get(n, ())]
        store_error = None
        if self.store is not None:
            try:
                entries = await self._with_sessions(entries)
            except JobdeckError as exc:  # a damaged database: the queue is still the scheduler's
                store_error = str(exc)
        return QueueSnapshot(tuple(entries), errors, reports, now, store_error)

    async def _list(self, name: str, since: float) -> QueueReport | str:
        backend = self.backends[name]
        lister = backend.queue_lister
        if lister is None:
            return f"{name}: a {backend.kind} cluster cannot list its queue"
        try:
            return await asyncio.wait_for(lister.list_queue(since), LIST_TIMEOUT)
        except TimeoutError:
            return f"{name}: no answer in {LIST_TIMEOUT:.0f} s"
        except (BackendUnavailable, JobdeckError) as exc:
            return str(exc) if str(exc).startswith(name) else f"{name}: {exc}"

    async def _with_sessions(self, entries: list[QueueEntry]) -> list[QueueEntry]:
        """Each entry with the session whose attempt carries its scheduler ID (on a cluster of the
        same name first). IDs are looked up once; a job adopted or submitted later is found when
        the store says its sessions changed (`forget_sessions`)."""
        assert self.store is not None
        new = [e.job_id for e in entries if e.job_id not in self._asked]
        if new:
            self._sessions.update(await self.store.sessions_of(new))
            self._asked.update(new)
        named = []
        before, self._named = self._named, {}
        for entry in entries:
            owners = self._sessions.get(entry.job_id)
            if owners:
                same = [s for s, c in owners if c == entry.cluster]
                session = (same or [owners[0][0]])[0]
                if session != entry.session:
                    listed = entry
                    kept = before.get(entry.key)
                    if kept is not None and kept[0] is listed and kept[1].session == session:
                        entry = kept[1]  # the same object as last time: the view's rows stay put
                    else:
                        entry = replace(entry, session=session)
                    self._named[entry.key] = (listed, entry)
            named.append(entry)
        return named

    def forget_sessions(self) -> None:
        """Look every ID up again at the next refresh (after an adoption or a submission)."""
        self._sessions.clear()
        self._asked.clear()

    async def close(self) -> None:
        for backend in self.backends.values():
            await backend.close()
