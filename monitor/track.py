"""Monitor-all: register every job the session's manifest defines that is
not tracked yet, as PENDING. Submitting them is a separate, confirmed step."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import InputError
from monitor.expand import expand_manifest
from monitor.manifest import ClusterKinds, read_manifest
from monitor.protocols import SessionStorage
from monitor.states import State


@dataclass(frozen=True, slots=True)
class TrackResult:
    session: str
    manifest: str
    added: int
    never_submitted: int  # PENDING jobs after registering, new or old


async def track(
    store: SessionStorage, session: str, kinds: ClusterKinds, now: float | None = None
) -> TrackResult:
    """Re-read the session's manifest file (so jobs added to it since are picked up); its clusters
    are of `kinds`."""
    path, _ = await store.session_manifest(session)
    if not path or not Path(path).exists():
        raise InputError(
            f"session {session!r}: its manifest {path or '(none)'} is gone; cannot track more jobs"
        )
    manifest = read_manifest(path, kinds)
    if manifest.session.name != session:
        raise InputError(f"{path}: now names session {manifest.session.name!r}, not {session!r}")
    now = time.time() if now is None else now
    session_id = await store.ensure_session(session, str(manifest.path), manifest.to_dict(), now)
    definitions = expand_manifest(manifest)
    added = await store.add_jobs(session_id, [(d.name, d.task, d.spec) for d in definitions], now)
    pending = await store.jobs(session, states=[State.PENDING])
    return TrackResult(session, str(manifest.path), added, len(pending))
