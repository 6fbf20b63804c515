"""Files on the cluster, reached through a runner: batched stats for validation, byte ranges for logs.

One command per batch, never one per file (be kind to the controller): the paths travel NUL-separated on stdin
to `xargs -0`, so names with spaces, quotes, newlines or `$(...)` are data, never code.
"""

from __future__ import annotations

from collections.abc import Sequence

from backends.runners.base import CommandResult, Runner
from backends.runners.frames import READ_MANY_ARGV, parse_frames
from monitor.errors import BackendUnavailable
from monitor.model import PathStat, ReadChunk

_STAT = ["xargs", "-0", "-r", "stat", "-L", "--printf", "%s\\t%Y\\t%n\\0", "--"]
_SHA = ["xargs", "-0", "-r", "sha256sum", "-z", "--"]
_C_LOCALE = {"LC_ALL": "C"}  # stat's messages in English whatever the user's language: they are parsed
_MISSING = (": No such file or directory", ": Not a directory")  # how stat ends a line for a missing path
_READ = (
    'stat -L -c %s -- "$1" || exit 3; '
    'exec dd if="$1" bs=65536 skip="$2" count="$3" iflag=skip_bytes,count_bytes status=none'
)


class RemoteFiles:
    """Stat and read files where a runner runs (this machine or a login node)."""

    def __init__(self, runner: Runner, timeout: float = 60.0) -> None:
        self.runner = runner
        self.timeout = timeout

    async def stat_paths(self, paths: Sequence[str], checksum: bool = False) -> dict[str, PathStat | None]:
        """None for a path that does not exist; BackendUnavailable when a path cannot be looked at
        (permission denied, I/O error), because then we do not know."""
        if not paths:
            return {}
        found: dict[str, PathStat | None] = dict.fromkeys(paths)
        data = b"".join(p.encode() + b"\0" for p in paths)
        result = await self.runner.run(_STAT, input=data, timeout=self.timeout, env=_C_LOCALE)
        self._raise_unless_only_missing(result)
        for record in result.stdout.split(b"\0"):
            if not record:
                continue
            size, mtime, name = record.split(b"\t", 2)
            found[name.decode(errors="surrogateescape")] = PathStat(int(size), float(mtime))
        if checksum:
            present = [p for p, s in found.items() if s is not None]
            sums = await self._sha256(present)
            for path, digest in sums.items():
                stat = found[path]
                if stat is not None:
                    found[path] = PathStat(stat.size, stat.mtime, digest)
        return found

    async def _sha256(self, paths: Sequence[str]) -> dict[str, str]:
        if not paths:
            return {}
        data = b"".join(p.encode() + b"\0" for p in paths)
        result = await self.runner.run(_SHA, input=data, timeout=self.timeout * 10, env=_C_LOCALE)
        self._raise_unless_only_missing(result)
        sums = {}
        for record in result.stdout.split(b"\0"):
            if record:
                digest, name = record.split(b"  ", 1)
                sums[name.decode(errors="surrogateescape")] = digest.decode()
        return sums

    def _raise_unless_only_missing(self, result: CommandResult) -> None:
        if result.ok:
            return
        problems = [
            line
            for line in result.stderr.decode(errors="replace").splitlines()
            if line.strip() and not line.endswith(_MISSING)
        ]
        if problems or result.returncode not in (0, 123):
            detail = problems[0] if problems else result.error_text()
            raise BackendUnavailable(f"{self.runner.description}: cannot check files: {detail}")

    async def read_many(self, requests: Sequence[tuple[str, int, int]]) -> dict[str, ReadChunk | None]:
        """Byte ranges of many files in one round trip (the runner's own reader, else one command);
        see backends.runners.frames for the answer's form."""
        if not requests:
            return {}
        paths = [path for path, _, _ in requests]
        if len(set(paths)) != len(paths):
            raise ValueError("read_many: a path is asked for twice")
        data = b"".join(
            f"{path}\0{offset}\0{max(0, limit)}\0".encode(errors="surrogateescape")
            for path, offset, limit in requests
        )
        result = await self.runner.read_frames(data, self.timeout)
        if result is None:
            result = await self.runner.run(READ_MANY_ARGV, input=data, timeout=self.timeout)
        if not result.ok:
            raise BackendUnavailable(f"{self.runner.description}: cannot read logs: {result.error_text()}")
        try:
            return parse_frames(result.stdout, paths)
        except ValueError as exc:
            raise BackendUnavailable(
                f"{self.runner.description}: unexpected answer reading logs: {exc}"
            ) from None

    async def read_bytes(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        """Only the requested range travels; the first line of output is the file's size."""
        argv = ["sh", "-c", _READ, "sh", path, str(max(0, offset)), str(max(0, limit))]
        result = await self.runner.run(argv, timeout=self.timeout, env=_C_LOCALE)
        if result.returncode == 3 or not result.ok:
            message = result.error_text()
            if "No such file" in message:
                raise FileNotFoundError(f"{path}: no such file on {self.runner.description}")
            if "Permission denied" in message:
                raise PermissionError(f"{path}: permission denied on {self.runner.description}")
            raise BackendUnavailable(f"{self.runner.description}: cannot read {path}: {message}")
        size_line, _, data = result.stdout.partition(b"\n")
        return data, int(size_line)
