"""The composition root: builds backends and controllers from a session's stored manifest."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backends.runners.base import Runner
from backends.runners.files import RemoteFiles
from backends.runners.local import LocalRunner
from monitor.controller import Controller, ControllerSettings
from monitor.errors import InputError
from monitor.health import HealthSettings
from monitor.manifest import ClusterConfig, Manifest, ManifestError, SessionConfig
from monitor.protocols import Backend
from store.session_store import SessionStore


def validation_enabled() -> bool:
    """JOBDECK_VALIDATE=false trusts the scheduler's word instead of checking outputs."""
    return os.environ.get("JOBDECK_VALIDATE", "true").strip().lower() not in ("0", "false", "no", "off")


def make_runner(cluster: ClusterConfig) -> Runner:
    """A local runner, or one reused SSH connection configured like `ssh` (~/.ssh/config, or the
    file named by JOBDECK_SSH_CONFIG, as `ssh -F` would). A Kubernetes cluster's runner is where
    its outputs are checked: its `outputs_host`, else this machine."""
    host = cluster.outputs_host if cluster.backend == "kubernetes" else cluster.host
    if host is None:
        return LocalRunner()
    from backends.runners.ssh import SshRunner  # asyncssh takes ~0.15 s to import: only for SSH clusters

    config = os.environ.get("JOBDECK_SSH_CONFIG")
    return SshRunner(
        host,
        port=cluster.port,
        user=cluster.user,
        identity_file=cluster.identity_file,
        known_hosts=cluster.known_hosts,
        config_paths=[config] if config else None,
        accept_new_host_key=cluster.accept_new_host_key,
        agent_python=cluster.agent_python or None,
    )


AVAILABLE_BACKENDS = ("slurm", "local", "kubernetes")


def make_backend(cluster: ClusterConfig, local_state: Path, session: str | None = None) -> Backend:
    """The backend of a cluster; `session` narrows a Kubernetes backend's lists to that session's Jobs."""
    # each backend is imported only when a session uses it
    if cluster.backend == "slurm":
        from backends.slurm.backend import SlurmBackend

        return SlurmBackend(cluster.name, make_runner(cluster))
    if cluster.backend == "local":
        from backends.local.backend import LocalBackend

        return LocalBackend(cluster.name, local_state, max_parallel=cluster.max_parallel)
    if cluster.backend == "kubernetes":
        # the kubernetes client takes ~0.7 s to import
        from backends.kubernetes.backend import KubernetesBackend
        from backends.kubernetes.connection import Settings

        return KubernetesBackend(
            cluster.name,
            session=session,
            settings=Settings(cluster.kubeconfig, cluster.context, cluster.namespace),
            ttl_after_finished=cluster.ttl_seconds_after_finished,
            files=RemoteFiles(make_runner(cluster)),
        )
    raise InputError(
        f"cluster {cluster.name!r}: the {cluster.backend} backend is not available in this version"
    )


def check_clusters(manifest: Manifest) -> None:
    """Refuse, before anything is written, a cluster whose backend this version cannot drive."""
    for name, cluster in manifest.clusters.items():
        if cluster.backend not in AVAILABLE_BACKENDS:
            raise ManifestError(
                manifest.path,
                f"clusters.{name}.backend: the {cluster.backend} backend is not available in this version",
            )


def clusters_of(manifest: Mapping[str, Any]) -> dict[str, ClusterConfig]:
    return {
        name: ClusterConfig.model_validate(data) for name, data in (manifest.get("clusters") or {}).items()
    }


async def open_controller(store: SessionStore, session: str, *, validate: bool | None = None) -> Controller:
    """A controller for a stored session, with a backend for each of its clusters (connections
    are opened lazily, on the first command)."""
    _, manifest = await store.session_manifest(session)
    config = SessionConfig.model_validate(manifest["session"])
    local_state = store.path.parent / "local-jobs"
    backends = {name: make_backend(c, local_state, session) for name, c in clusters_of(manifest).items()}
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
