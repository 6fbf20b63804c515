"""Where an SSH runner connects and which server keys it trusts, resolved the way OpenSSH does."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from monitor.errors import InputError

# OpenSSH's defaults when ssh_config names no UserKnownHostsFile (asyncssh reads only the first).
_DEFAULT_KNOWN_HOSTS = ("~/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts")
_KEEPALIVE_INTERVAL = 15.0
_KEEPALIVE_COUNT_MAX = 3


@dataclass(frozen=True, slots=True)
class SshTarget:
    """The resolved settings of one host: asyncssh.connect keywords plus the known_hosts files."""

    name: str  # the host as the user wrote it, for messages
    user: str
    hostname: str
    port: int
    connect_kwargs: dict[str, Any]
    known_hosts: tuple[Path, ...]  # read in order; accept-new appends to the first

    @property
    def description(self) -> str:
        return f"ssh {self.user}@{self.hostname}:{self.port}"


def resolve_target(
    host: str,
    *,
    port: int | None,
    user: str | None,
    identity_file: str | Path | None,
    known_hosts: str | Path | None,
    config_paths: Sequence[str | Path] | None,
    connect_timeout: float,
) -> SshTarget:
    """Merge the overrides with ssh_config (asyncssh's default is ~/.ssh/config, as for ssh).
    Password and keyboard-interactive logins are off: only the agent and key files are used."""
    kwargs: dict[str, Any] = {
        "host": host,
        "connect_timeout": connect_timeout,
        "keepalive_interval": _KEEPALIVE_INTERVAL,
        "keepalive_count_max": _KEEPALIVE_COUNT_MAX,
        "password_auth": False,
        "kbdint_auth": False,
    }
    if config_paths is not None:
        kwargs["config"] = [str(path) for path in config_paths]
    if port is not None:
        kwargs["port"] = port
    if user is not None:
        kwargs["username"] = user
    if identity_file is not None:
        kwargs["client_keys"] = [str(identity_file)]
    try:
        options = asyncssh.SSHClientConnectionOptions(**kwargs)
    except (OSError, ValueError, asyncssh.Error) as exc:
        raise InputError(f"ssh {host}: cannot use its settings ({exc})") from None
    if known_hosts is not None:
        files: Sequence[str | Path] = [known_hosts]
    else:
        files = options.known_hosts or _DEFAULT_KNOWN_HOSTS
    return SshTarget(
        name=host,
        user=options.username,
        hostname=options.host,
        port=options.port,
        connect_kwargs=kwargs,
        known_hosts=tuple(Path(file).expanduser() for file in files),
    )


class HostKeyCheck:
    """Judges a server key that known_hosts did not vouch for, like StrictHostKeyChecking=yes
    (or accept-new), and keeps the one-line reason for a refusal."""

    def __init__(self, target: SshTarget, accept_new: bool) -> None:
        self._target = target
        self._accept_new = accept_new
        self._trusted = asyncssh.SSHKnownHosts()
        self.refusal: str | None = None

    def load_known_hosts(self) -> asyncssh.SSHKnownHosts:
        """The recorded keys as they are on disk now (read at each connect, as ssh does)."""
        parts = [path.read_text() for path in self._target.known_hosts if path.exists()]
        self._trusted = asyncssh.import_known_hosts("\n".join(parts))
        return self._trusted

    def judge(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        """True to accept `key` (only for a host with no recorded key, when accept-new is on)."""
        entry = host if port == 22 else f"[{host}]:{port}"
        offered = f"{key.get_algorithm()} {key.get_fingerprint('sha256')}"
        record = self._target.known_hosts[0]
        recorded_keys, recorded_cas, *_ = asyncssh.match_known_hosts(self._trusted, host, addr, port)
        if recorded_keys or recorded_cas:
            self.refusal = (
                f"host key for {entry} differs from the one recorded in known_hosts (server offers "
                f"{offered}); refused: if the change is expected, remove the old entry with "
                f"`{shlex.join(['ssh-keygen', '-R', entry, '-f', str(record)])}`"
            )
            return False
        if not self._accept_new:
            keyscan = shlex.join(["ssh-keyscan", *(["-p", str(port)] if port != 22 else []), host])
            self.refusal = (
                f"unknown host key for {entry} (server offers {offered}); if it is right, run "
                f"`{keyscan} >> {shlex.quote(str(record))}` or set accept_new_host_key"
            )
            return False
        line = f"{entry} {key.get_algorithm()} {key.export_public_key('openssh').split()[1].decode()}\n"
        try:
            record.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            unterminated = record.exists() and record.read_bytes()[-1:] not in (b"", b"\n")
            with record.open("a") as stream:
                stream.write(("\n" if unterminated else "") + line)
        except OSError as exc:
            self.refusal = f"cannot record the host key of {entry} in {record} ({exc})"
            return False
        return True
