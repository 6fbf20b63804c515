"""The composition root: builds backends and controllers from a session's stored manifest."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from backends.registry import stored_cluster
from monitor.controller import Controller, ControllerSettings
from monitor.health import HealthSettings
from monitor.manifest import ClusterConfig, SessionConfig
from store.session_store import SessionStore


def validation_enabled() -> bool:
    """JOBDECK_VALIDATE=false trusts the scheduler's word instead of checking outputs."""
    return os.environ.get("JOBDECK_VALIDATE", "true").strip().lower() not in ("0", "false", "no", "off")


def clusters_of(manifest: Mapping[str, Any]) -> dict[str, ClusterConfig]:
    """The clusters of a stored session's manifest."""
    return {name: stored_cluster(data) for name, data in (manifest.get("clusters") or {}).items()}


async def open_controller(store: SessionStore, session: str, *, validate: bool | None = None) -> Controller:
    """A controller for a stored session, with a backend for each of its clusters (connections
    are opened lazily, on the first command)."""
    _, manifest = await store.session_manifest(session)
    config = SessionConfig.model_validate(manifest["session"])
    local_state = store.path.parent / "local-jobs"
    backends = {name: c.open_backend(local_state, session) for name, c in clusters_of(manifest).items()}
    settings = ControllerSettings(
        poll_interval=config.poll_interval,
        lost_grace=config.lost_grace,
        validate_grace=config.validate_grace,
        validate=validation_enabled() if validate is None else validate,
        intent_grace=config.intent_grace,
        health=HealthSettings(config.stuck_queued, config.stalled_log),
    )
    return Controller(store, session, backends, settings)


async def close_controller(controller: Controller) -> None:
    for backend in controller.backends.values():
        await backend.close()
