"""Processes on this machine as a cluster, as a manifest describes it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from backends.kubernetes.cluster import ONLY_KUBERNETES
from monitor.manifest import ClusterConfig
from monitor.protocols import Backend


class LocalCluster(ClusterConfig):
    backend: Literal["local"] = "local"
    max_parallel: int = Field(4, gt=0)

    UNUSED_JOB_FIELDS = ONLY_KUBERNETES

    def open_backend(self, local_state: Path, session: str | None) -> Backend:
        from backends.local.backend import LocalBackend  # imported only when a session uses it

        return LocalBackend(self.name, local_state, max_parallel=self.max_parallel)
