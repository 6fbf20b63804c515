"""The SSH fields a cluster table may have, and the runner they make: one shared by the backends
whose commands or files may be reached through SSH."""

from __future__ import annotations

import os
from abc import abstractmethod
from typing import ClassVar

from pydantic import Field

from backends.runners.base import Runner
from backends.runners.local import LocalRunner
from monitor.manifest import ClusterConfig, PathText

_NEEDS_HOST = frozenset(
    {"port", "user", "identity_file", "known_hosts", "accept_new_host_key", "agent_python"}
)


class SshAccess(ClusterConfig):
    """How to log in to the cluster's SSH host (`ssh_host`); without one, commands run here."""

    port: int | None = Field(None, ge=1, le=65535)
    user: str | None = None
    identity_file: PathText | None = None
    known_hosts: PathText | None = None
    accept_new_host_key: bool = False
    agent_python: str = "python3"  # starts the command agent on the host; "" for a login shell per command

    LOCAL_FILES: ClassVar[tuple[str, ...]] = ("identity_file", "known_hosts")
    HOST_FIELD: ClassVar[str]  # the field that names the SSH host, and what it is, for messages

    @property
    @abstractmethod
    def ssh_host(self) -> str | None:
        """The SSH host, or None: this machine."""

    def problem(self) -> tuple[str, str] | None:
        if self.ssh_host is None and (needs_host := sorted(self.model_fields_set & _NEEDS_HOST)):
            return needs_host[0], f"needs {self.HOST_FIELD}"
        return None

    def runner(self) -> Runner:
        """A local runner, or one reused SSH connection configured like `ssh` (~/.ssh/config, or
        the file named by JOBDECK_SSH_CONFIG, as `ssh -F` would)."""
        if self.ssh_host is None:
            return LocalRunner()
        from backends.runners.ssh import SshRunner  # asyncssh takes ~0.15 s to import: only for SSH clusters

        config = os.environ.get("JOBDECK_SSH_CONFIG")
        return SshRunner(
            self.ssh_host,
            port=self.port,
            user=self.user,
            identity_file=self.identity_file,
            known_hosts=self.known_hosts,
            config_paths=[config] if config else None,
            accept_new_host_key=self.accept_new_host_key,
            agent_python=self.agent_python or None,
        )
