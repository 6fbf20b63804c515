"""A SLURM cluster as a manifest describes it: reached here or through one SSH host."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from backends.kubernetes.cluster import ONLY_KUBERNETES
from backends.ssh_access import SshAccess
from monitor.manifest import Host
from monitor.protocols import Backend


class SlurmCluster(SshAccess):
    backend: Literal["slurm"] = "slurm"
    host: Host | None = None  # SSH; else the scheduler runs here

    HOST_FIELD: ClassVar[str] = '"host" (the SSH host the cluster is reached through)'
    UNUSED_JOB_FIELDS = ONLY_KUBERNETES

    @property
    def ssh_host(self) -> str | None:
        return self.host

    @property
    def remote(self) -> bool:
        return self.host is not None

    def open_backend(self, local_state: Path, session: str | None) -> Backend:
        from backends.slurm.backend import SlurmBackend  # imported only when a session uses it

        return SlurmBackend(self.name, self.runner())
