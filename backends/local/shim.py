"""The per-task wrapper process of the local backend: waits for a slot, runs the script, records its fate.

Run as `python -m backends.local.shim --record FILE --slots DIR --max-parallel N -- SCRIPT ARGS...`.
It detaches itself (double fork, new session) so that it is nobody's child: the monitor may exit
or be killed and the task still runs and records its end. SIGTERM means "cancel": it is forwarded
to the script's process group, and the task is recorded CANCELLED.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from backends.local.records import FINAL_STATES, process_start, read_record, update_record

POLL_SECONDS = 0.2
TERM_GRACE = 3.0  # seconds between forwarding SIGTERM and killing the script


class Shim:
    def __init__(self, record: Path, slots: Path, max_parallel: int, command: list[str]) -> None:
        self.record = record
        self.slots = slots
        self.max_parallel = max_parallel
        self.command = command
        self.cancel_requested = False

    def on_sigterm(self, _signum: int, _frame: object) -> None:
        self.cancel_requested = True

    def detach(self) -> None:
        """Fork; the parent records the child's identity and exits, the child leads a new session."""
        child = os.fork()
        if child:
            update_record(self.record, pid=child, pid_start=process_start(child), pgid=child)
            os._exit(0)
        os.setsid()

    def run(self) -> None:
        if read_record(self.record).state in FINAL_STATES:  # cancelled before it could start
            return
        if not self._wait_for_slot():
            self._finish("CANCELLED")
            return
        start = time.time()
        try:
            child = subprocess.Popen(self.command, stdin=subprocess.DEVNULL)
        except OSError as exc:
            self._finish("FAILED", reason=f"cannot execute {self.command[0]}: {exc.strerror}")
            return
        update_record(self.record, state="RUNNING", start_time=start, reason=None)
        status = self._wait(child)
        exit_code, signum = (None, -status) if status < 0 else (status, None)
        if self.cancel_requested:
            self._finish("CANCELLED", exit_code=exit_code, signal=signum)
        else:
            self._finish("COMPLETED" if status == 0 else "FAILED", exit_code=exit_code, signal=signum)

    def _wait_for_slot(self) -> bool:
        """Take one of `max_parallel` slot locks, held until the shim exits; False if cancelled meanwhile."""
        said_resources = False
        while not self.cancel_requested:
            for index in range(self.max_parallel):
                fd = os.open(self.slots / f"slot-{index}", os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                return True  # the descriptor stays open, so the lock is held
            if not said_resources:
                update_record(self.record, reason="Resources")
                said_resources = True
            time.sleep(POLL_SECONDS)
        return False

    def _wait(self, child: subprocess.Popen[bytes]) -> int:
        forwarded_at: float | None = None
        while True:
            try:
                return child.wait(timeout=POLL_SECONDS)
            except subprocess.TimeoutExpired:
                pass
            if self.cancel_requested and forwarded_at is None:
                os.killpg(os.getpgrp(), signal.SIGTERM)  # reaches the script and its children (and us)
                forwarded_at = time.monotonic()
            elif forwarded_at is not None and time.monotonic() - forwarded_at > TERM_GRACE:
                child.kill()

    def _finish(self, state: str, **fields: object) -> None:
        update_record(self.record, state=state, end_time=time.time(), **fields)


def parse(argv: list[str]) -> Shim:
    """Options before `--`, the script's command line after it (passed on literally)."""
    usage = "usage: python -m backends.local.shim --record FILE --slots DIR --max-parallel N -- COMMAND..."
    try:
        split = argv.index("--")
        options = dict(zip(argv[:split:2], argv[1:split:2], strict=True))
        record, slots, parallel = options["--record"], options["--slots"], int(options["--max-parallel"])
    except (ValueError, KeyError):
        raise SystemExit(usage) from None
    command = argv[split + 1 :]
    if not command or parallel < 1:
        raise SystemExit(usage)
    return Shim(Path(record), Path(slots), parallel, command)


def main(argv: list[str]) -> None:
    shim = parse(argv)
    signal.signal(signal.SIGTERM, shim.on_sigterm)  # before detaching: a cancel can come at once
    shim.detach()
    shim.run()


if __name__ == "__main__":
    main(sys.argv[1:])
