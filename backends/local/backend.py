"""A tiny real scheduler for this machine, so jobdeck can be tried and tested without a cluster.

Every task runs under its own detached shim (backends.local.shim) that waits for one of
`max_parallel` slots and records the task's fate in a JSON file under the state directory; the
monitor only reads those files, so it can exit, crash and re-attach without losing a job. IDs mirror
SLURM's display form: "17" for a plain job, "17_3" for task 3 of array job 17.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import hashlib
import os
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from backends.local.records import (
    FINAL_STATES,
    TaskRecord,
    locked,
    process_start,
    read_record,
    record_path,
    update_record,
    write_atomic,
    write_record,
)
from backends.slurm.states import map_slurm
from monitor.errors import BackendUnavailable, SchedulerRejected
from monitor.log_patterns import resolve_pattern
from monitor.model import (
    Observation,
    PathStat,
    PollReport,
    ReadChunk,
    SubmitRequest,
    SubmitResult,
    TaskSpec,
    read_range,
)

T = TypeVar("T")

TIMEOUT = 30.0  # seconds for any one blocking operation on the state directory or the filesystem
CHECKSUM_TIMEOUT = 600.0
DETACH_TIMEOUT = 20.0  # seconds for a shim to start and detach
DETACH_SECONDS_PER_TASK = 0.5  # shims start in parallel; measured ~0.04 s of CPU each on 2 loaded cores
CANCEL_GRACE = 5.0  # seconds between SIGTERM to a shim and SIGKILL of its process group
SPAWN_GRACE = 10.0  # a record without a shim PID this old was left by a submit that died midway


@dataclass(frozen=True, slots=True)
class _Task:
    """One task of a submission as it will run."""

    job_id: str
    argv: tuple[str, ...]
    log_path: str
    err_path: str | None


class LocalBackend:
    """monitor.protocols.Backend for processes on this machine; state lives in `state_dir`."""

    kind = "local"
    map_state = staticmethod(map_slurm)  # the shim records SLURM's words
    requeuer = None
    adopter = None  # its jobs are jobdeck's own: nothing to adopt
    queue_lister = None  # every job of the user: not listed yet
    tail_reader = None  # logs are files that stay where the job wrote them

    def __init__(self, cluster: str, state_dir: str | Path, max_parallel: int = 4) -> None:
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, not {max_parallel}")
        self.cluster = cluster
        self.state_dir = Path(state_dir)
        self.max_parallel = max_parallel
        self._records = self.state_dir / "records"
        self._slots = self.state_dir / "slots"

    def describe_submit(self, request: SubmitRequest) -> str:
        """One shell command line per task, as it would run; the job ID is not known yet: <id>."""
        return "\n".join(self._command_line(request, task) for task in self._plan(request, "<id>"))

    async def submit(self, request: SubmitRequest) -> SubmitResult:
        timeout = TIMEOUT + DETACH_TIMEOUT + DETACH_SECONDS_PER_TASK * len(request.tasks)
        return await self._state_call("submit", self._submit, request, timeout=timeout)

    async def poll(self, job_ids: Sequence[str], since: float | None) -> PollReport:
        """`since` is not needed: records are kept until the state directory is removed."""
        return await self._state_call("poll", self._poll, job_ids, timeout=TIMEOUT)

    async def find(self, names: Sequence[str], tags: Sequence[str], since: float) -> PollReport:
        """Every record whose job name or tag matches, submitted since `since`."""
        return await self._state_call("find", self._find, set(names), set(tags), since, timeout=TIMEOUT)

    async def cancel(self, job_ids: Sequence[str]) -> None:
        """SIGTERM to each shim, SIGKILL of its process group after CANCEL_GRACE; unknown IDs are ignored."""
        await self._state_call("cancel", self._cancel, job_ids, timeout=TIMEOUT + CANCEL_GRACE)

    async def stat_paths(self, paths: Sequence[str], checksum: bool = False) -> dict[str, PathStat | None]:
        timeout = CHECKSUM_TIMEOUT if checksum else TIMEOUT
        what = f"stat of {len(paths)} paths"
        return await self._in_thread(what, _stat_all, list(paths), checksum, timeout=timeout)

    async def read_bytes(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        return await self._in_thread(f"read of {path}", _read_bytes, path, offset, limit, timeout=TIMEOUT)

    async def read_many(self, requests: Sequence[tuple[str, int, int]]) -> dict[str, ReadChunk | None]:
        what = f"read of {len(requests)} files"
        return await self._in_thread(what, _read_many, list(requests), timeout=TIMEOUT)

    async def close(self) -> None:
        """Nothing is held open: the shims own the tasks."""

    async def _in_thread(self, what: str, func: Callable[..., T], *args: object, timeout: float) -> T:
        try:
            return await asyncio.wait_for(asyncio.to_thread(func, *args), timeout)
        except TimeoutError:
            raise BackendUnavailable(
                f"local backend {self.cluster}: {what} did not finish within {timeout:.0f} s"
            ) from None

    async def _state_call(self, what: str, func: Callable[..., T], *args: object, timeout: float) -> T:
        """Run `func` on the state directory; a failing disk or a corrupt record is BackendUnavailable."""
        try:
            return await self._in_thread(f"{what} in {self.state_dir}", func, *args, timeout=timeout)
        except (OSError, ValueError) as exc:
            raise BackendUnavailable(f"local backend {self.cluster}: {what} failed: {exc}") from exc

    def _plan(self, request: SubmitRequest, base_id: str) -> list[_Task]:
        script = request.script
        runner = [script] if os.access(script, os.X_OK) else ["/bin/sh", script]
        default_log = "slurm-%A_%a.out" if request.is_array else "slurm-%j.out"
        return [
            _Task(
                job_id=_task_id(base_id, task, request.is_array),
                argv=(*runner, *task.args),
                log_path=self._resolve(request.log or default_log, request, base_id, task),
                err_path=self._resolve(request.err, request, base_id, task) if request.err else None,
            )
            for task in request.tasks
        ]

    def _resolve(self, template: str, request: SubmitRequest, base_id: str, task: TaskSpec) -> str:
        """SLURM's filename patterns, resolved as sbatch would; relative paths start at the workdir."""
        resolved = resolve_pattern(
            template,
            job_id=_task_id(base_id, task, request.is_array),
            array_job_id=base_id if request.is_array else None,
            task=task.index,
            name=request.name,
            user=getpass.getuser(),
            node=socket.gethostname().split(".", 1)[0],
        )
        return os.path.join(request.workdir, resolved)

    def _command_line(self, request: SubmitRequest, task: _Task) -> str:
        errors = f"2>> {shlex.quote(task.err_path)}" if task.err_path else "2>&1"
        return (
            f"cd {shlex.quote(request.workdir)} && {shlex.join(task.argv)} "
            f"< /dev/null >> {shlex.quote(task.log_path)} {errors}"
        )

    def _submit(self, request: SubmitRequest) -> SubmitResult:
        if not os.path.isfile(request.script):
            raise SchedulerRejected(f"local backend {self.cluster}: script {request.script} does not exist")
        if not os.path.isdir(request.workdir):
            raise SchedulerRejected(f"local backend {self.cluster}: workdir {request.workdir} does not exist")
        self._records.mkdir(parents=True, exist_ok=True)
        self._slots.mkdir(parents=True, exist_ok=True)
        base_id = self._allocate_id()
        tasks = self._plan(request, base_id)
        now = time.time()
        for task in tasks:  # every record exists before any shim runs, so no poll misses a task
            record = TaskRecord(
                job_id=task.job_id,
                name=request.name,
                tag=request.tag,
                state="PENDING",
                submit_time=now,
                argv=task.argv,
                log_path=task.log_path,
                err_path=task.err_path,
            )
            write_record(record_path(self._records, task.job_id), record)
        shims = [self._spawn(request.workdir, task) for task in tasks]
        for task, shim in zip(tasks, shims, strict=True):
            try:
                status: int | None = shim.wait(timeout=DETACH_TIMEOUT)
            except subprocess.TimeoutExpired:
                status = None
            if status != 0:
                raise BackendUnavailable(
                    f"local backend {self.cluster}: the shim of {task.job_id} did not detach "
                    f"(exit status {status}); see {task.err_path or task.log_path}"
                )
        return SubmitResult(
            job_id=base_id,
            task_ids={spec.index: task.job_id for spec, task in zip(request.tasks, tasks, strict=True)},
            command="\n".join(self._command_line(request, task) for task in tasks),
        )

    def _allocate_id(self) -> str:
        counter = self.state_dir / "counter"
        with locked(self.state_dir / "counter.lock"):
            last = int(counter.read_text()) if counter.exists() else 0
            write_atomic(counter, f"{last + 1}\n".encode())
        return str(last + 1)

    def _spawn(self, workdir: str, task: _Task) -> subprocess.Popen[bytes]:
        command = [
            sys.executable, "-P", "-m", "backends.local.shim",
            "--record", str(record_path(self._records, task.job_id)),
            "--slots", str(self._slots),
            "--max-parallel", str(self.max_parallel),
            "--", *task.argv,
        ]  # fmt: skip
        with contextlib.ExitStack() as files:
            outputs = []
            for path in (task.log_path, task.err_path or task.log_path):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                outputs.append(files.enter_context(open(path, "ab")))
            return subprocess.Popen(
                command,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=outputs[0],
                stderr=outputs[1],
                start_new_session=True,
            )

    def _matching(self, job_ids: Sequence[str]) -> list[Path]:
        """Record files of the asked IDs in one directory read; a base ID matches all its tasks."""
        wanted = set(job_ids)
        try:
            names = [entry.name for entry in os.scandir(self._records) if entry.name.endswith(".json")]
        except FileNotFoundError:
            return []
        return [
            self._records / name
            for name in names
            if name[:-5] in wanted or name[:-5].split("_", 1)[0] in wanted
        ]

    def _poll(self, job_ids: Sequence[str]) -> PollReport:
        observations = [self._observe(path) for path in self._matching(job_ids)]
        return PollReport(
            observations={obs.job_id: obs for obs in observations},
            commands=(f"read {self.state_dir}",),
        )

    def _find(self, names: set[str], tags: set[str], since: float) -> PollReport:
        found = {}
        for path in sorted(self._records.glob("*.json")) if self._records.is_dir() else []:
            obs = self._observe(path)
            recent = obs.submit_time is None or obs.submit_time >= since
            if recent and (obs.name in names or (obs.tag is not None and obs.tag in tags)):
                found[obs.job_id] = obs
        return PollReport(found, (f"read {self.state_dir}",))

    def _observe(self, path: Path) -> Observation:
        record = read_record(path)
        if record.state not in FINAL_STATES and not _shim_alive(record):
            record = read_record(path)  # a shim records its end before it exits
            if record.state not in FINAL_STATES:
                return _observation(record, raw_state="NODE_FAIL", reason="process vanished")
        return _observation(record, raw_state=record.state, reason=record.reason)

    def _cancel(self, job_ids: Sequence[str]) -> None:
        waiting: list[Path] = []
        for path in self._matching(job_ids):
            record = read_record(path)
            if record.state in FINAL_STATES or not _shim_alive(record):  # ended, or vanished: NODE_FAIL
                continue
            if record.pid is not None:
                _send(os.kill, record.pid, signal.SIGTERM)
            waiting.append(path)
        deadline = time.monotonic() + CANCEL_GRACE
        while waiting and time.monotonic() < deadline:
            time.sleep(0.1)
            waiting = [path for path in waiting if not _settled(read_record(path))]
        for path in waiting:
            record = read_record(path)
            if record.pgid is not None and _shim_alive(record):
                _send(os.killpg, record.pgid, signal.SIGKILL)
            update_record(path, unless_final=True, state="CANCELLED", end_time=time.time())


def _task_id(base_id: str, task: TaskSpec, is_array: bool) -> str:
    return f"{base_id}_{task.index}" if is_array else base_id


def _shim_alive(record: TaskRecord) -> bool:
    """Whether the record's shim still runs; a PID now held by another process does not count."""
    if record.pid is None:
        return time.time() - record.submit_time < SPAWN_GRACE
    return record.pid_start is not None and process_start(record.pid) == record.pid_start


def _settled(record: TaskRecord) -> bool:
    return record.state in FINAL_STATES or not _shim_alive(record)


def _send(kill: Callable[[int, int], None], target: int, signum: int) -> None:
    """Signal a process (group) that may have ended meanwhile."""
    with contextlib.suppress(ProcessLookupError):
        kill(target, signum)


def _observation(record: TaskRecord, raw_state: str, reason: str | None) -> Observation:
    return Observation(
        job_id=record.job_id,
        raw_state=raw_state,
        raw_id=record.job_id,  # %j in log names is the task's own ID here
        name=record.name,
        tag=record.tag,
        reason=reason,
        exit_code=record.exit_code,
        signal=record.signal,
        submit_time=record.submit_time,
        start_time=record.start_time,
        end_time=record.end_time,
        log_path=record.log_path,
        source="local",
    )


def _stat_all(paths: list[str], checksum: bool) -> dict[str, PathStat | None]:
    """None only for a path that truly does not exist; any other failure means the check could not run."""
    result: dict[str, PathStat | None] = {}
    for path in paths:
        try:
            info = os.stat(path)
            digest = _sha256(path) if checksum and stat.S_ISREG(info.st_mode) else None
        except (FileNotFoundError, NotADirectoryError):
            result[path] = None
            continue
        except OSError as exc:
            raise BackendUnavailable(f"cannot check output {path}: {exc.strerror}") from exc
        result[path] = PathStat(size=info.st_size, mtime=info.st_mtime, sha256=digest)
    return result


def _sha256(path: str) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _read_bytes(path: str, offset: int, limit: int) -> tuple[bytes, int]:
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            return os.pread(file.fileno(), max(limit, 0), offset), size
    except (FileNotFoundError, PermissionError):
        raise
    except OSError as exc:
        raise BackendUnavailable(f"cannot read {path}: {exc.strerror}") from exc


def _read_many(requests: list[tuple[str, int, int]]) -> dict[str, ReadChunk | None]:
    """Data, size and identity of each file from one open descriptor (so a rotation is all or nothing)."""
    found: dict[str, ReadChunk | None] = {}
    for path, offset, limit in requests:
        if path in found:
            raise ValueError("read_many: a path is asked for twice")
        try:
            with open(path, "rb") as file:
                measured = os.fstat(file.fileno()).st_size if offset < 0 else 0
                start, length = read_range(offset, limit, measured)
                data = os.pread(file.fileno(), length, start)
                info = os.fstat(file.fileno())
        except (FileNotFoundError, NotADirectoryError):
            found[path] = None
            continue
        except OSError as exc:
            found[path] = ReadChunk(b"", 0, None, exc.strerror or str(exc))
            continue
        size = measured if offset < 0 else info.st_size
        found[path] = ReadChunk(data, size, f"{info.st_dev}:{info.st_ino}")
    return found
